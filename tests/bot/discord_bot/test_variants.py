"""Re-run variations change one parameter of the parent and stay inside its definition."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.discord_bot.variants import VARIANT_LABELS, VARIANTS, variant_params
from bot.store import JobParams, Store
from nst_engine.params import STYLE_STRENGTH
from tests.bot.store.helpers import blob


@pytest.fixture
async def store(sqlite_url: str):
    s = await Store.open(sqlite_url, per_user_queue_limit=5, global_queue_limit=50)
    yield s
    await s.close()


async def _job(store: Store, params: JobParams):
    return await store.submit(1, None, None, blob("c"), [(blob("s"), 1.0)], params)


async def test_each_variant_changes_one_thing_and_drops_the_seed(store: Store) -> None:
    parent = await _job(store, JobParams(size=200, style_strength=1.0, seed=7))
    changed = {v: variant_params(parent, v, max_size=1024) for v in VARIANTS}
    assert set(VARIANT_LABELS) == set(VARIANTS)
    base = replace(parent.params, parent_job_id=parent.id, seed=None)
    assert changed == {
        "stronger": replace(base, style_strength=2.0),
        "weaker": replace(base, style_strength=0.5),
        "colours": replace(base, preserve_colors=True),
        "larger": replace(base, size=300),
    }
    assert variant_params(parent, "sideways", max_size=1024) is None


async def test_variants_stay_inside_the_ranges(store: Store) -> None:
    top = await _job(store, JobParams(size=1000, style_strength=STYLE_STRENGTH.maximum))
    bottom = await _job(store, JobParams(size=64, style_strength=STYLE_STRENGTH.minimum))
    stronger = variant_params(top, "stronger", max_size=1024)
    weaker = variant_params(bottom, "weaker", max_size=1024)
    larger = variant_params(top, "larger", max_size=1024)
    assert stronger is not None and stronger.style_strength == STYLE_STRENGTH.maximum
    assert weaker is not None and weaker.style_strength == STYLE_STRENGTH.minimum
    assert larger is not None and larger.size == 1024
    assert stronger.problems() == weaker.problems() == larger.problems() == []
