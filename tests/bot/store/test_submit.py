"""Submitting, queue caps, queue info, cancelling, history and settings (both backends)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError

from bot.store import (
    CancelRefused,
    InteractionRef,
    JobParams,
    JobStatus,
    QueueRefused,
    Store,
    Viewer,
)
from bot.store.models import JobRow
from tests.bot.store.helpers import TINY, blob, submit


async def test_submit_stores_job_and_dedupes_images(store: Store) -> None:
    style = blob("starry")
    a = await store.submit(1, 10, 20, blob("a"), [(style, 1.0), (blob("b"), 0.5)], TINY)
    b = await store.submit(2, 10, 20, blob("a"), [(style, 2.0)], TINY)
    assert a.status is JobStatus.QUEUED and a.id != b.id
    assert a.content_sha == b.content_sha  # same bytes stored once
    assert a.styles[0][0] == b.styles[0][0] and [w for _, w in a.styles] == [1.0, 0.5]
    assert a.created_at.tzinfo is not None and a.created_at.utcoffset() == timedelta(0)
    image = await store.get_image(a.content_sha)
    assert image is not None and image.data == blob("a").data and image.fmt == "png"
    assert (image.width, image.height) == (64, 48)
    assert await store.get_image("0" * 64) is None
    assert await store.get_job(a.id) == a
    assert await store.get_job(10_000) is None


async def test_interaction_token_is_kept_but_never_shown(store: Store) -> None:
    expires = datetime.now(UTC) + timedelta(minutes=15)
    ref = InteractionRef(application_id=99, token="s3cr3t-token", expires_at=expires)
    job = await store.get_job(await submit(store, 1, interaction=ref))
    assert job is not None and job.interaction is not None
    assert job.interaction.token == "s3cr3t-token"
    assert "s3cr3t" not in repr(job) and "s3cr3t" not in str(job.interaction)
    await store.set_response_message(job.id, 555)
    again = await store.get_job(job.id)
    assert again is not None and again.interaction is not None
    assert again.interaction.message_id == 555


async def test_per_user_cap_refuses_with_reason(store: Store) -> None:
    for _ in range(3):
        await submit(store, 1)
    with pytest.raises(QueueRefused) as refused:
        await submit(store, 1)
    assert refused.value.code == "user_limit" and "limit is 3" in refused.value.message
    await submit(store, 2)  # other users are unaffected


async def test_finished_jobs_free_the_users_slot(store: Store) -> None:
    ids = [await submit(store, 1) for _ in range(3)]
    await store.request_cancel(ids[0], 1)
    await submit(store, 1)


async def test_global_cap(db_url: str) -> None:
    store = await Store.open(db_url, per_user_queue_limit=5, global_queue_limit=4)
    try:
        for user in range(4):
            await submit(store, user)
        with pytest.raises(QueueRefused) as refused:
            await submit(store, 99)
        assert refused.value.code == "queue_full"
    finally:
        await store.close()


async def test_cooldown(db_url: str) -> None:
    store = await Store.open(db_url, cooldown_s=30)
    try:
        await submit(store, 1)
        with pytest.raises(QueueRefused) as refused:
            await submit(store, 1)
        assert refused.value.code == "cooldown" and "wait" in refused.value.message
        store.clock = lambda: datetime.now(UTC) + timedelta(seconds=31)
        await submit(store, 1)
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("params", "n_styles", "needle"),
    [
        (JobParams(preset="ultra"), 1, "preset"),
        (JobParams(size=10), 1, "at least 64"),
        (JobParams(style_strength=0.0), 1, "strength"),
        (JobParams(init="bogus"), 1, "init"),
        (TINY, 0, "style images"),
        (TINY, 5, "style images"),
    ],
)
async def test_bad_params_are_refused(
    store: Store, params: JobParams, n_styles: int, needle: str
) -> None:
    styles = [(blob(f"s{i}"), 1.0) for i in range(n_styles)]
    with pytest.raises(QueueRefused) as refused:
        await store.submit(1, None, None, blob("c"), styles, params)
    assert refused.value.code == "bad_params" and needle in refused.value.message


async def test_guild_rules(store: Store) -> None:
    rules = await store.set_guild_settings(
        7, allowed_channel_ids=[100, 101], per_user_queue_limit=1, max_size=256
    )
    assert rules.allowed_channel_ids == (100, 101) and rules.max_size == 256
    with pytest.raises(QueueRefused) as refused:
        await submit(store, 1, guild=7, channel=555)
    assert refused.value.code == "channel_not_allowed" and "<#100>" in refused.value.message
    with pytest.raises(QueueRefused) as refused:
        await submit(store, 1, guild=7, channel=100, params=JobParams(size=512))
    assert refused.value.code == "too_large" and "256" in refused.value.message
    await submit(store, 1, guild=7, channel=100)
    with pytest.raises(QueueRefused) as refused:
        await submit(store, 1, guild=7, channel=101)
    assert refused.value.code == "user_limit"
    await store.set_guild_settings(7, allowed_channel_ids=[])
    assert (await store.get_guild_settings(7)).allowed_channel_ids == ()
    assert (await store.get_guild_settings(8)).per_user_queue_limit is None


async def test_parent_must_exist(store: Store) -> None:
    parent = await submit(store, 1)
    child = await store.get_job(await submit(store, 1, params=JobParams(parent_job_id=parent)))
    assert child is not None and child.params.parent_job_id == parent
    with pytest.raises(QueueRefused) as refused:
        await submit(store, 1, params=JobParams(parent_job_id=9999))
    assert refused.value.code == "parent_not_found"


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


async def test_cancel_queued_and_running(store: Store) -> None:
    queued, running = await submit(store, 1, "q", guild=7), await submit(store, 2, "r", guild=7)
    with pytest.raises(CancelRefused) as refused:
        await store.request_cancel(queued, Viewer(2, 7))
    assert refused.value.code == "not_owner"
    job = await store.request_cancel(queued, 1)
    assert job.status is JobStatus.CANCELLED and job.finished_at is not None
    with pytest.raises(CancelRefused) as refused:
        await store.request_cancel(queued, 1)
    assert refused.value.code == "already_finished"
    with pytest.raises(CancelRefused) as refused:
        await store.request_cancel(424242, 1)
    assert refused.value.code == "not_found"

    claimed = await store.claim("w1")
    assert claimed is not None and claimed.job.id == running
    assert not await store.is_cancel_requested(running)
    job = await store.request_cancel(running, Viewer(999, 7), admin=True)
    assert job.status is JobStatus.RUNNING and job.cancel_requested
    assert await store.is_cancel_requested(running)
    assert await store.mark_cancelled(running, "w1")
    final = await store.get_job(running)
    assert final is not None and final.status is JobStatus.CANCELLED


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


async def test_user_settings_round_trip(store: Store) -> None:
    assert (await store.get_user_settings(1)).size is None
    saved = await store.set_user_settings(1, size=768, private=True)
    assert (saved.size, saved.private, saved.dm_on_done) == (768, True, None)
    saved = await store.set_user_settings(1, size=None, dm_on_done=True)
    assert (saved.size, saved.private, saved.dm_on_done) == (None, True, True)
    with pytest.raises(TypeError):
        await store.set_user_settings(1, colour="red")
    await store.set_user_settings(2, private=False)
    await store.set_user_settings(3, private=True)
    assert await store.users_with_private_default() == {1, 3}
    await store.forget_user(3)
    assert await store.users_with_private_default() == {1}


async def test_database_errors_never_show_tokens(store: Store) -> None:
    now = datetime.now(UTC)
    row = {
        "owner_id": 1, "status": "queued", "content_sha": "f" * 64, "size": 64,
        "preset": "fast", "style_strength": 1.0, "preserve_colors": False, "init": "content",
        "private": False, "dm_on_done": False, "attempts": 0, "crashes": 0,
        "created_at": now, "updated_at": now, "application_id": 1,
        "interaction_token": "tok-SECRET-123", "token_expires_at": now,
    }  # fmt: skip
    with pytest.raises(DBAPIError) as failed:  # content_sha names no image: FK violation
        async with store.write() as conn:
            await conn.execute(insert(JobRow).values(**row))
    assert "tok-SECRET" not in str(failed.value) and "tok-SECRET" not in repr(failed.value)
