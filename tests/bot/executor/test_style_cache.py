"""An executor keeps its style targets across jobs (`EngineOptions.style_cache`), so the
second job with the same style — a painting of the bundled library — computes none."""

from __future__ import annotations

import pytest

from bot import styles as library
from bot.executor.engine_call import EngineOptions, JobInput, run_job
from bot.store import JobParams
from tests import badimages

pytestmark = pytest.mark.slow  # two real engine runs


def test_the_second_job_with_a_library_style_reuses_its_targets():
    options = EngineOptions(device="cpu", preview_every=0)
    style = library.find("the-scream").image_bytes()
    params = JobParams(size=64, preset="fast")
    photo = badimages.photo((96, 64))
    photos = [badimages.png(photo), badimages.png(photo.rotate(180))]

    first = run_job(JobInput(1, photos[0], [(style, 1.0)], params), options)
    assert first.kind == "succeeded", first.error_message
    computed = options.style_cache.misses
    assert computed > 0

    second = run_job(JobInput(2, photos[1], [(style, 1.0)], params), options)
    assert second.kind == "succeeded", second.error_message
    assert options.style_cache.misses == computed  # no style target computed again
    assert options.style_cache.hits >= computed
