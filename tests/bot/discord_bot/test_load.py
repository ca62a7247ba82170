"""Load: 500 /stylize interactions at once → every one deferred, every job recorded."""

from __future__ import annotations

import pytest

from tests.bot.discord_bot.load import run_load

pytestmark = pytest.mark.slow


async def test_500_interactions_at_once(tmp_path):
    result = await run_load(tmp_path, n=500)
    assert result.errors == []
    assert len(result.defer_s) == 500  # every interaction deferred (callback type 5)
    assert result.jobs_recorded == 500  # every job in the store
    assert result.answered == 500  # every reply edited to show its queued job
    print("\n" + result.table())
