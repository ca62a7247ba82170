"""Delivery as leased, fenced state: pending → delivering → delivered | undeliverable, on
SQLite and PostgreSQL (two holders racing on PostgreSQL really run at once)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.store import DeliveryState, InteractionRef, JobStatus, ShardSet, Store
from tests.bot.store.helpers import finish, submit


async def finished(store: Store, owner: int = 1, tag: str = "c", **kw) -> int:
    """A job that ran and succeeded, so its delivery is pending."""
    job_id = await submit(store, owner, tag, **kw)
    claimed = await store.claim("w1")
    assert claimed is not None and claimed.job.id == job_id
    assert await store.complete(
        job_id, "w1", b"png-" + tag.encode(), 1, 1, 0.1, token=claimed.token
    )
    return job_id


async def state(store: Store, job_id: int) -> DeliveryState | None:
    job = await store.get_job(job_id)
    assert job is not None
    return job.delivery.state


def later(store: Store, seconds: float) -> None:
    """Move the store's clock forward (lease expiry, back-off)."""
    base = store.clock
    store.clock = lambda: base() + timedelta(seconds=seconds)


async def test_every_way_of_finishing_makes_delivery_pending(store: Store) -> None:
    queued = await submit(store, 1, "q")
    assert await state(store, queued) is None  # not finished: not in the state machine
    cancelled = await store.request_cancel(queued, 1)
    assert cancelled.status is JobStatus.CANCELLED
    assert cancelled.delivery.state is DeliveryState.PENDING

    ok = await finished(store, 2, "ok")
    assert await state(store, ok) is DeliveryState.PENDING

    failing = await submit(store, 3, "f")
    claimed = await store.claim("w2")
    assert claimed is not None and claimed.job.id == failing
    assert await store.fail(failing, "w2", "too_small", "Too small.", token=claimed.token)
    assert await state(store, failing) is DeliveryState.PENDING

    stopped = await submit(store, 1, "s")
    claimed = await store.claim("w3")
    assert claimed is not None and claimed.job.id == stopped
    await store.request_cancel(stopped, 1)  # running: flagged, still running
    assert await state(store, stopped) is None
    assert await store.requeue(stopped, "w3", token=claimed.token)  # cancel wins the requeue
    assert (await store.get_job(stopped)).status is JobStatus.CANCELLED
    assert await state(store, stopped) is DeliveryState.PENDING


async def test_lease_mark_delivered_and_fencing(store: Store) -> None:
    job_id = await finished(store)
    [leased] = await store.lease_deliveries("bot-a", lease_s=30)
    assert leased.id == job_id
    d = leased.delivery
    assert (d.state, d.holder, d.attempts) == (DeliveryState.DELIVERING, "bot-a", 1)
    assert d.lease_until is not None and d.lease_until > store.clock()
    assert await store.lease_deliveries("bot-b") == []  # held, not expired
    assert await store.lease_delivery(job_id, "bot-b") is None

    assert await store.set_delivery_target(job_id, "bot-a", "channel")
    assert not await store.set_delivery_target(job_id, "bot-b", "dm")  # not the holder
    with pytest.raises(ValueError):
        await store.set_delivery_target(job_id, "bot-a", "carrier-pigeon")
    assert await store.renew_delivery_lease(job_id, "bot-a", lease_s=60)
    assert not await store.renew_delivery_lease(job_id, "bot-b", lease_s=60)

    assert not await store.mark_delivered(job_id, "bot-b", 5, 6, "channel")
    assert await store.mark_delivered(job_id, "bot-a", 5, 6, "channel")
    job = await store.get_job(job_id)
    assert job is not None and job.delivery.state is DeliveryState.DELIVERED
    assert (job.delivered_message_id, job.delivered_channel_id, job.delivered_via) == (
        5,
        6,
        "channel",
    )
    assert job.delivery.target == "channel" and job.delivered_at is not None
    assert not await store.mark_delivered(job_id, "bot-a", 5, 6, "channel")  # only once
    later(store, 3600)
    assert await store.lease_deliveries("bot-b") == []  # delivered is final


async def test_expired_lease_is_taken_over_and_the_stale_holder_is_fenced_off(
    store: Store,
) -> None:
    job_id = await finished(store)
    [first] = await store.lease_deliveries("bot-a", lease_s=10)
    assert await store.set_delivery_target(first.id, "bot-a", "interaction")
    later(store, 11)  # bot-a crashed (or hangs) past its lease
    [taken] = await store.lease_deliveries("bot-b", lease_s=10)
    assert taken.id == job_id and taken.delivery.holder == "bot-b"
    assert taken.delivery.attempts == 2
    assert taken.delivery.target == "interaction"  # retry where bot-a may already have posted

    assert not await store.mark_delivered(job_id, "bot-a", 1, 2, "interaction")
    assert not await store.delivery_failed(job_id, "bot-a", reason="late", retry_in_s=1)
    assert not await store.renew_delivery_lease(job_id, "bot-a", lease_s=10)
    assert await store.mark_delivered(job_id, "bot-b", 1, 2, "interaction")
    job = await store.get_job(job_id)
    assert job is not None and job.delivery.holder == "bot-b"


async def test_transient_failures_back_off_and_never_block_fresh_deliveries(
    store: Store,
) -> None:
    poisoned = [await finished(store, owner, f"p{owner}") for owner in (1, 2, 3)]
    leased = await store.lease_deliveries("bot", limit=3)
    assert sorted(j.id for j in leased) == poisoned
    for job_id in poisoned:
        assert await store.delivery_failed(job_id, "bot", reason="HTTP 503", retry_in_s=30)
    job = await store.get_job(poisoned[0])
    assert job is not None
    d = job.delivery
    assert (d.state, d.holder, d.error) == (DeliveryState.PENDING, None, "HTTP 503")
    assert d.next_at is not None and d.next_at > store.clock()

    fresh = await finished(store, 4, "fresh")
    # Backing off: not due, so a sweep of one takes the fresh job, not an older poisoned one.
    assert [j.id for j in await store.lease_deliveries("bot", limit=1)] == [fresh]
    assert await store.lease_delivery(poisoned[0], "bot") is None  # not due yet
    assert await store.mark_delivered(fresh, "bot", None, None, "none")

    later(store, 31)
    again = await store.lease_deliveries("bot", limit=10)
    assert sorted(j.id for j in again) == poisoned
    assert all(j.delivery.attempts == 2 for j in again)


async def test_permanent_failure_is_undeliverable_with_its_reason(store: Store) -> None:
    job_id = await finished(store)
    assert await store.lease_delivery(job_id, "bot") is not None
    reason = "Discord said 403: Missing Access\n(channel 42)"
    assert await store.delivery_failed(job_id, "bot", reason=reason, retry_in_s=None)
    job = await store.get_job(job_id)
    assert job is not None
    assert job.delivery.state is DeliveryState.UNDELIVERABLE
    assert job.delivery.error == "Discord said 403: Missing Access (channel 42)"  # one line
    later(store, 86400)
    assert await store.lease_deliveries("bot") == []


async def test_lease_deliveries_keeps_to_its_shards(store: Store) -> None:
    shard0_guild, shard1_guild = 0 << 22, 1 << 22
    dm = await finished(store, 1, "dm")
    g0 = await finished(store, 2, "g0", guild=shard0_guild)
    g1 = await finished(store, 3, "g1", guild=shard1_guild)
    one = await store.lease_deliveries("bot-1", shards=ShardSet(2, frozenset({1})))
    assert [j.id for j in one] == [g1]
    zero = await store.lease_deliveries("bot-0", shards=ShardSet(2, frozenset({0})))
    assert sorted(j.id for j in zero) == sorted([dm, g0])


async def test_two_holders_leasing_at_once_never_share_a_job(db_url: str) -> None:
    stores = [await Store.open(db_url, per_user_queue_limit=100) for _ in range(2)]
    try:
        ids = [await finished(stores[0], n % 5, f"r{n}") for n in range(40)]
        got: dict[str, list[int]] = {"a": [], "b": []}
        # Both lease once before either goes on, so both really take part even when one
        # would otherwise win every lock on a loaded machine (SQLite's busy handler).
        started = asyncio.Barrier(2)

        async def sweep(store: Store, holder: str) -> None:
            first = True
            while True:
                jobs = await store.lease_deliveries(holder, limit=3)
                if first:
                    first = False
                    await started.wait()
                if not jobs:
                    return
                got[holder].extend(j.id for j in jobs)
                for job in jobs:
                    assert await store.mark_delivered(job.id, holder, None, None, "none")

        await asyncio.gather(sweep(stores[0], "a"), sweep(stores[1], "b"))
        assert sorted(got["a"] + got["b"]) == sorted(ids)  # each exactly once
        assert not set(got["a"]) & set(got["b"])
        assert got["a"] and got["b"]  # both really took part
    finally:
        for s in stores:
            await s.close()


async def test_web_playground_jobs_are_never_leased_for_discord(store: Store) -> None:
    """Negative owners are web browsers: the bot's sweep and per-job lease skip them, the web
    face's `web=True` lease takes only them."""
    web_job = await finished(store, -7, "web")
    discord_job = await finished(store, 7, "dc")
    leased = await store.lease_deliveries("bot-1", limit=10)
    assert [j.id for j in leased] == [discord_job]
    assert await store.lease_delivery(web_job, "bot-1") is None
    assert await store.lease_delivery(discord_job, "web", web=True) is None
    settled = await store.lease_delivery(web_job, "web", web=True)
    assert settled is not None and settled.id == web_job
    assert await store.mark_delivered(web_job, "web", None, None, "none")
    assert await state(store, web_job) is DeliveryState.DELIVERED


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


async def test_pending_until_marked_delivered(store: Store) -> None:
    a, b = await submit(store, 1, "a"), await submit(store, 2, "b")
    assert await store.lease_deliveries("bot") == []  # nothing finished yet
    await finish(store, a, b"ra")
    await store.request_cancel(b, 2)
    pending = await store.lease_deliveries("bot")
    assert [j.id for j in pending] == [a, b]
    assert pending[0].status is JobStatus.SUCCEEDED and pending[1].status is JobStatus.CANCELLED
    assert await store.mark_delivered(a, "bot", 777, 888, "interaction")
    assert not await store.mark_delivered(a, "bot", 777, 888, "interaction")  # only once
    job = await store.get_job(a)
    assert job and (job.delivered_message_id, job.delivered_channel_id) == (777, 888)
    assert job.delivered_via == "interaction" and job.delivered_at is not None
    with pytest.raises(ValueError):
        await store.mark_delivered(b, "bot", None, None, "carrier-pigeon")
