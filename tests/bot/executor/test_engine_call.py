"""`bot.executor.engine_call`: `run_job` maps every way the engine can end to one outcome; the
stop flag remembers why it was raised."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from PIL import Image

from bot.executor.engine_call import (
    INTERNAL_MESSAGE,
    EngineOptions,
    JobInput,
    StopFlag,
    run_job,
)
from bot.executor.job_run import PREVIEW_INTERVAL_S
from bot.settings import Settings
from bot.store import JobParams
from nst_engine.errors import Cancelled, OutOfMemoryError
from nst_engine.results import StylizeResult
from tests import badimages


def test_rotated_phone_jpeg_gives_an_upright_result():
    # Pixels stored landscape (96×64), EXIF orientation 6: the photo is portrait.
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    badimages.photo((96, 64)).save(buf, format="JPEG", quality=90, exif=exif.tobytes())
    style = badimages.png(badimages.photo((64, 64)))
    job = JobInput(1, buf.getvalue(), [(style, 1.0)], JobParams(size=64, preset="fast"))

    out = run_job(job, EngineOptions(device="cpu", preview_every=0))

    assert out.kind == "succeeded", out.error_message
    assert out.height == 64 and out.width < out.height  # 64 px long side, portrait
    assert out.png is not None and Image.open(io.BytesIO(out.png)).size == (out.width, 64)


def test_stop_flag_reason_precedence():
    flag = StopFlag()
    assert not flag()
    flag.set("shutdown")
    assert flag() and flag.reason == "shutdown"
    flag.set("cancel")
    assert flag.reason == "cancel"
    flag.set("shutdown")  # a later shutdown must not turn a cancel into a requeue
    assert flag.reason == "cancel"
    flag.set("lost")
    assert flag.reason == "lost"


def _png(path: Path) -> bytes:
    return path.read_bytes()


def test_bad_input_fails_with_the_decoders_reason(fixture_images):
    style = _png(fixture_images / "starry_night.jpg")
    cut = style[: len(style) // 2]  # an upload cut off halfway
    out = run_job(JobInput(1, cut, [(style, 1.0)], JobParams(size=64)), EngineOptions())
    assert out.kind == "failed"
    assert out.error_code == "truncated"
    assert "incomplete or corrupt" in (out.error_message or "")

    out = run_job(JobInput(2, b"", [(style, 1.0)], JobParams(size=64)), EngineOptions())
    assert (out.kind, out.error_code) == ("failed", "empty")

    out = run_job(
        JobInput(3, style, [(b"hello, I am text", 1.0)], JobParams(size=64)), EngineOptions()
    )
    assert (out.kind, out.error_code) == ("failed", "not_an_image")


def _raiser(exc: BaseException):
    def stylize(*args, **kwargs):
        raise exc

    return stylize


def test_engine_exceptions_map_to_outcomes(fixture_images, caplog):
    data = _png(fixture_images / "tubingen.jpg")
    job = JobInput(42, data, [(data, 1.0)], JobParams(size=64))
    out = run_job(job, EngineOptions(), stylize=_raiser(Cancelled()))
    assert out.kind == "cancelled"

    out = run_job(job, EngineOptions(), stylize=_raiser(OutOfMemoryError("no fit at 64 px")))
    assert (out.kind, out.error_code) == ("failed", "out_of_memory")
    assert "smaller size" in (out.error_message or "")

    with caplog.at_level(logging.ERROR, logger="bot.executor.engine_call"):
        out = run_job(job, EngineOptions(), stylize=_raiser(ZeroDivisionError("boom")))
    assert (out.kind, out.error_code, out.error_message) == (
        "failed",
        "internal_error",
        INTERNAL_MESSAGE,
    )
    assert "boom" not in (out.error_message or "")
    record = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert "job 42" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError


def _engine_arguments(fixture_images, size: int, options: EngineOptions) -> dict:
    """The keyword arguments `run_job` calls the engine with, for a job of `size`."""
    seen: dict = {}

    def stylize(content, styles, **kwargs):
        seen.update(kwargs)
        raise Cancelled()

    data = _png(fixture_images / "tubingen.jpg")
    run_job(JobInput(1, data, [(data, 0.5)], JobParams(size=size)), options, stylize=stylize)
    return seen


def test_size_is_capped_by_the_executors_max_size(fixture_images):
    seen = _engine_arguments(fixture_images, 4096, EngineOptions(max_size=256))
    assert seen["size"] == 256


def test_the_engine_renders_previews_more_often_than_the_relay_forwards_them(fixture_images):
    seen = _engine_arguments(fixture_images, 64, EngineOptions())
    assert 0 < seen["preview_interval_s"] == EngineOptions().preview_interval_s
    assert seen["preview_interval_s"] < PREVIEW_INTERVAL_S


def test_the_bf16_setting_reaches_the_engine_and_the_ran_precision_the_outcome(fixture_images):
    seen: dict = {}

    def stylize(content, styles, **kwargs):
        seen.update(kwargs)
        return StylizeResult(image=content, steps=1, elapsed_s=0.1, device="cpu", precision="bf16")

    data = _png(fixture_images / "tubingen.jpg")
    job = JobInput(1, data, [(data, 1.0)], JobParams(size=64))
    assert EngineOptions().bf16 == Settings(_env_file=None).bf16 == "auto"
    outcome = run_job(job, EngineOptions(bf16="true"), stylize=stylize)
    assert seen["precision"] == "true" and "bf16" not in seen
    assert outcome.kind == "succeeded" and outcome.precision == "bf16"
