"""Read-only queries (`bot.store.queries`): queue position and ETA, history, active jobs,
stats and changes since (both backends)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bot.store import (
    JobStatus,
    Store,
    Viewer,
)
from tests.bot.store.helpers import TINY, submit


async def test_queue_info_positions_and_eta(store: Store) -> None:
    ids = [await submit(store, user) for user in (1, 2, 3)]
    info = await store.queue_info(ids[2])
    assert info is not None and (info.position, info.total_queued) == (3, 3)
    assert info.eta_s is None  # nothing measured yet
    claimed = await store.claim("w1")
    assert claimed is not None and claimed.job.id == ids[0]
    await store.complete(ids[0], "w1", b"png", 64, 64, elapsed_s=10.0)
    info = await store.queue_info(ids[2])
    assert info is not None and info.position == 2 and info.eta_s is not None
    assert info.eta_s == pytest.approx(20.0)  # one job ahead + its own, 10 s each
    done = await store.queue_info(ids[0])
    assert done is not None and done.status is JobStatus.SUCCEEDED and done.position == 0
    assert await store.queue_info(12345) is None


async def test_queue_position_follows_round_robin(db_url: str) -> None:
    store = await Store.open(db_url, per_user_queue_limit=10)
    try:
        heavy = [await submit(store, 1, f"h{i}") for i in range(4)]
        light = await submit(store, 2, "l")
        other = await submit(store, 3, "o")
        positions = {}
        for job_id in [*heavy, light, other]:
            info = await store.queue_info(job_id)
            assert info is not None and info.total_queued == 6
            positions[job_id] = info.position
        # Claim order will be h0, l, o, h1, h2, h3: the late single jobs are not behind
        # all of user 1's jobs.
        assert [positions[j] for j in (heavy[0], light, other)] == [1, 2, 3]
        assert [positions[j] for j in heavy[1:]] == [4, 5, 6]
        order = []
        while (claimed := await store.claim("w1")) is not None:
            order.append(claimed.job.id)
            await store.complete(claimed.job.id, "w1", b"r", 1, 1, 1.0)
        assert order == sorted(positions, key=positions.__getitem__)
    finally:
        await store.close()


async def test_history_hides_private_jobs_from_others(store: Store) -> None:
    public = await submit(store, 1, "p", guild=5)
    private = await submit(store, 1, "x", guild=5, params=dataclasses.replace(TINY, private=True))
    own = [j.id for j in await store.history(1, Viewer(1))]
    assert own == [private, public]  # newest first
    assert [j.id for j in await store.history(1, Viewer(2, 5))] == [public]
    assert [j.id for j in await store.history(1, Viewer(1), limit=1, offset=1)] == [public]
    assert [j.id for j in await store.active_jobs(owner_id=1)] == [public, private]


async def test_stats_and_updated_since(store: Store) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    a = await submit(store, 1, guild=5)
    await submit(store, 2, guild=6)
    claimed = await store.claim("w1")
    assert claimed is not None
    await store.fail(claimed.job.id, "w1", "too_small", "The content image is too small.")
    stats = await store.stats()
    assert (stats.queued, stats.failed, stats.users, stats.executors_online) == (1, 1, 2, 1)
    guild = await store.stats(guild_id=5)
    assert (guild.queued + guild.failed, guild.users) == (1, 1)
    changed = await store.updated_since(before)
    assert {j.id for j in changed} >= {a}
    failed = await store.get_job(a)
    assert failed is not None and failed.error_message == "The content image is too small."
