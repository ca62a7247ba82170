"""`bot.executor.testhooks`: the crash hook does nothing unless the test suite arms it."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("seed", [None, 7])
def test_crash_hook_is_inert_without_its_env(monkeypatch, seed):
    from bot.executor import testhooks

    monkeypatch.delenv(testhooks.CRASH_SEED_ENV, raising=False)
    testhooks.maybe_crash(seed, 5)  # would os._exit if it were active
    monkeypatch.setenv(testhooks.CRASH_SEED_ENV, "8")
    testhooks.maybe_crash(seed, 5)  # active, but a different seed
