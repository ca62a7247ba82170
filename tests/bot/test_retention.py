"""Scheduled retention: the bot purges old jobs by itself, and a database error never stops
the schedule. In-process on a real SQLite file, then through the real `nst-bot run`."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from bot.retention import purge_loop
from bot.store import JobStatus, Store, migrate
from tests.bot.botproc import bot_process
from tests.bot.store.helpers import blob
from tests.bot.store.helpers import submit as submit_tiny
from tests.fakediscord import FakeDiscord

RETENTION_DAYS = 30


async def _finished(url: str, owner: int, tag: str, *, days_ago: float) -> int:
    """A job that succeeded `days_ago` days ago, made through the store's real calls."""
    store = await Store.open(url, per_user_queue_limit=100)
    try:
        real = store.clock
        store.clock = lambda: real() - timedelta(days=days_ago)
        job_id = await submit_tiny(store, owner, tag)
        claimed = await store.claim(f"w-{tag}")
        assert claimed is not None and claimed.job.id == job_id
        assert await store.complete(job_id, f"w-{tag}", blob(f"result-{tag}").data, 8, 8, 1.0)
        return job_id
    finally:
        await store.close()


async def _exists(url: str, job_id: int) -> bool:
    store = await Store.open(url)
    try:
        return await store.get_job(job_id) is not None
    finally:
        await store.close()


async def _wait_gone(url: str, job_id: int, timeout_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while await _exists(url, job_id):
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"job #{job_id} was not purged within {timeout_s:.0f} s")
        await asyncio.sleep(0.1)


async def test_purge_loop_survives_database_errors_and_purges_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'late.db'}"
    store = await Store.open(url)  # no schema yet: every purge fails
    caplog.set_level(logging.INFO, logger="bot.retention")
    loop = asyncio.create_task(purge_loop(store, RETENTION_DAYS, 0.05))
    try:
        while sum("scheduled purge failed" in r.message for r in caplog.records) < 2:
            assert not loop.done(), loop  # the error did not end the schedule
            await asyncio.sleep(0.02)
        failure = next(r for r in caplog.records if "scheduled purge failed" in r.message)
        assert failure.levelno == logging.WARNING and "OperationalError" in failure.message
        await asyncio.to_thread(migrate, url)
        # Fresh first: SQLite reuses the highest id once its row is gone, and the loop may
        # purge the old job before the next one is made.
        fresh = await _finished(url, 2, "fresh", days_ago=RETENTION_DAYS - 1)
        old = await _finished(url, 1, "old", days_ago=RETENTION_DAYS + 1)
        await _wait_gone(url, old, timeout_s=30)
        assert await _exists(url, fresh)
        assert any("purged 1 job(s)" in r.message for r in caplog.records)
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
        await store.close()


@pytest.mark.slow
async def test_the_bot_process_purges_on_its_own(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'nst.db'}"  # the database bot_process uses
    migrate(url)
    old = await _finished(url, 1, "old", days_ago=RETENTION_DAYS + 5)
    fresh = await _finished(url, 2, "fresh", days_ago=1)
    async with (
        FakeDiscord() as fake,
        bot_process(
            fake,
            tmp_path,
            EXECUTORS="0",
            RETENTION_DAYS=str(RETENTION_DAYS),
            PURGE_INTERVAL_S="0.5",
        ) as bot,
    ):
        await fake.wait_ready(timeout=60)
        await _wait_gone(url, old, timeout_s=60)
        # Not only at start-up: a job that gets old while the bot runs goes too.
        later = await _finished(url, 3, "later", days_ago=RETENTION_DAYS + 1)
        await _wait_gone(url, later, timeout_s=60)
        store = await Store.open(url)
        try:
            kept = await store.get_job(fresh)
            assert kept is not None and kept.status is JobStatus.SUCCEEDED
            assert kept.result_sha and await store.get_image(kept.result_sha) is not None
        finally:
            await store.close()
    assert bot.proc.returncode == 0, bot.output()[-3000:]
    assert "purged 1 job(s)" in bot.output()
