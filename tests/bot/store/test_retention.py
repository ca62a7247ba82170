"""Retention, user deletion, interaction-token expiry and delivery bookkeeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.store import InteractionRef, JobParams, JobStatus, Store
from tests.bot.store.helpers import submit


async def _finish(store: Store, job_id: int, result: bytes) -> None:
    claimed = await store.claim("w1")
    assert claimed is not None and claimed.job.id == job_id
    assert await store.complete(job_id, "w1", result, 8, 8, 1.0)


async def test_purge_deletes_old_jobs_and_their_unshared_images(store: Store) -> None:
    old = await submit(store, 1, "old-content")
    await _finish(store, old, b"old-result")
    old_job = await store.get_job(old)
    assert old_job is not None
    shared_style = old_job.styles[0][0]
    keep = await submit(store, 2, "new-content")  # same style image as the old job
    await store.set_user_settings(1, size=128)

    later = datetime.now(UTC) + timedelta(days=31)
    done = await store.purge(30, now=later)
    assert (done.jobs, done.images) == (1, 2)  # old content + old result; style still used
    assert await store.get_job(old) is None
    assert await store.get_image(old_job.content_sha) is None
    assert await store.get_image(old_job.result_sha or "") is None
    assert await store.get_image(shared_style) is not None
    assert await store.get_job(keep) is not None  # active jobs are never purged
    assert (await store.get_user_settings(1)).size == 128


async def test_purge_keeps_recent_jobs_and_sweeps_stale_orphans(store: Store) -> None:
    recent = await submit(store, 1)
    await _finish(store, recent, b"recent")
    orphan = await store.put_image(b"uploaded-but-never-used", "png", 1, 1)
    assert (await store.purge(30)).jobs == 0
    assert await store.get_image(orphan) is not None  # within the grace period
    done = await store.purge(30, now=datetime.now(UTC) + timedelta(hours=2))
    assert (done.jobs, done.images) == (0, 1)
    assert await store.get_image(orphan) is None
    assert await store.get_job(recent) is not None


async def test_forget_user_removes_everything_of_theirs_only(store: Store) -> None:
    mine = await submit(store, 1, "mine")
    await _finish(store, mine, b"my-result")
    variation = await submit(store, 2, "theirs", params=JobParams(parent_job_id=mine))
    running = await submit(store, 1, "mine-2")
    assert (await store.claim("w2")) is not None  # user 2's job (user 1 got served already)
    await store.set_user_settings(1, private=True)

    done = await store.forget_user(1)
    assert done.jobs == 2 and done.images >= 3
    assert await store.get_job(mine) is None and await store.get_job(running) is None
    assert await store.history(1, 1) == []
    assert (await store.get_user_settings(1)).private is None
    child = await store.get_job(variation)
    assert child is not None and child.params.parent_job_id is None
    assert await store.get_image(child.styles[0][0]) is not None  # shared style kept
    assert await store.get_image(child.content_sha) is not None


async def test_interaction_tokens_expire(store: Store) -> None:
    now = datetime.now(UTC)
    fresh = InteractionRef(
        application_id=1, token="tok-fresh", expires_at=now + timedelta(minutes=15)
    )
    stale = InteractionRef(
        application_id=1, token="tok-stale", expires_at=now - timedelta(seconds=1)
    )
    a = await submit(store, 1, "a", interaction=fresh)
    b = await submit(store, 2, "b", interaction=stale)
    assert await store.expire_interaction_tokens() == 1
    job_a, job_b = await store.get_job(a), await store.get_job(b)
    assert job_a and job_a.interaction and job_a.interaction.token == "tok-fresh"
    assert job_b and job_b.interaction and job_b.interaction.token is None
    assert job_b.interaction.application_id == 1  # the rest of the reference stays
    assert await store.expire_interaction_tokens(now + timedelta(minutes=16)) == 1
    job_a = await store.get_job(a)
    assert job_a and job_a.interaction and job_a.interaction.token is None


async def test_undelivered_until_marked(store: Store) -> None:
    a, b = await submit(store, 1, "a"), await submit(store, 2, "b")
    assert await store.undelivered() == []
    await _finish(store, a, b"ra")
    await store.request_cancel(b, 2)
    pending = await store.undelivered()
    assert [j.id for j in pending] == [a, b]
    assert pending[0].status is JobStatus.SUCCEEDED and pending[1].status is JobStatus.CANCELLED
    assert await store.mark_delivered(a, 777, 888, "interaction")
    assert not await store.mark_delivered(a, 777, 888, "interaction")  # only once
    assert [j.id for j in await store.undelivered()] == [b]
    job = await store.get_job(a)
    assert job and (job.delivered_message_id, job.delivered_channel_id) == (777, 888)
    assert job.delivered_via == "interaction" and job.delivered_at is not None
    with pytest.raises(ValueError):
        await store.mark_delivered(b, None, None, "carrier-pigeon")
