"""Admission (`admit` and the same rules inside `submit`): one cheap read, the guild's share of
the queue, and operators' limits as ceilings over a guild's saved rules (both backends)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from bot.store import GuildSettings, JobParams, QueueRefused, Store
from bot.store.admission import GuildLimits, clamp_limits
from tests.bot.store.helpers import submit


@pytest.fixture
async def limited(db_url: str) -> AsyncIterator[Store]:
    """Per user 2, per guild 4, 6 waiting in all, 512 px at most, no cooldown."""
    s = await Store.open(
        db_url, per_user_queue_limit=2, guild_queue_limit=4, global_queue_limit=6, max_size=512
    )
    yield s
    await s.close()


async def refusal(store: Store, owner: int, guild: int | None = None, **kw) -> str:
    """The code `admit` refuses with, after checking `submit` refuses with the same one."""
    channel, size = kw.get("channel"), kw.get("size", 64)
    with pytest.raises(QueueRefused) as admitted:
        await store.admit(owner, guild, channel, size)
    with pytest.raises(QueueRefused) as submitted:
        await submit(store, owner, guild=guild, channel=channel, params=JobParams(size=size))
    assert admitted.value.code == submitted.value.code
    assert admitted.value.message == submitted.value.message
    return admitted.value.code


async def test_admit_writes_nothing_and_agrees_with_submit(limited: Store) -> None:
    await limited.admit(1, 10, 20, 512)  # fine: nothing queued yet
    assert await limited.active_jobs() == []
    await submit(limited, 1, "a", guild=10)
    await submit(limited, 1, "b", guild=10)
    assert await refusal(limited, 1, 10) == "user_limit"
    assert await refusal(limited, 2, 10, size=513) == "too_large"
    await limited.admit(2, 10, 20, 512)
    assert len(await limited.active_jobs()) == 2


async def test_guild_share_leaves_room_for_other_guilds_and_dms(limited: Store) -> None:
    for user in range(4):
        await submit(limited, user, f"g{user}", guild=10)
    assert await refusal(limited, 9, 10) == "guild_full"
    with pytest.raises(QueueRefused) as refused:
        await limited.admit(9, 10, None, 64)
    assert "share of the queue (4)" in refused.value.message
    await submit(limited, 9, "other", guild=11)  # another server is unaffected
    await submit(limited, 8, "dm")  # a DM counts as no guild
    assert await refusal(limited, 7, 12) == "queue_full"  # 6 waiting in all
    # Running jobs count towards the guild's share too; finished ones free it.
    claimed = await limited.claim("w1")
    assert claimed is not None and claimed.job.guild_id == 10
    assert await refusal(limited, 9, 10) == "guild_full"
    await limited.complete(claimed.job.id, "w1", b"png", 64, 48, 1.0)
    await limited.admit(9, 10, None, 64)


async def test_saved_guild_rules_can_only_lower_the_operators_limits(limited: Store) -> None:
    # A row written before the ceilings (or by hand) asks for more than the operator allows.
    await limited.set_guild_settings(10, per_user_queue_limit=100, max_size=4096)
    limits = await limited.guild_limits(10)
    assert (limits.per_user_queue_limit, limits.max_size) == (2, 512)
    await submit(limited, 1, "a", guild=10)
    await submit(limited, 1, "b", guild=10)
    assert await refusal(limited, 1, 10) == "user_limit"
    assert await refusal(limited, 2, 10, size=1024) == "too_large"
    # Lower values apply.
    await limited.set_guild_settings(10, per_user_queue_limit=1, max_size=128)
    assert await refusal(limited, 3, 10, size=256) == "too_large"
    await submit(limited, 3, "c", guild=10, params=JobParams(size=128))
    assert await refusal(limited, 3, 10, size=128) == "user_limit"


async def test_channel_rules_come_first(limited: Store) -> None:
    await limited.set_guild_settings(10, allowed_channel_ids=[100])
    for user in range(2):
        await submit(limited, 1, f"u{user}", guild=10, channel=100)
    # Over quota and too large, but the closed channel is what the user can act on first.
    assert await refusal(limited, 1, 10, channel=5, size=4096) == "channel_not_allowed"
    await limited.admit(2, 11, 5, 64)  # another guild's rules don't apply


async def test_cooldown_names_the_seconds_left(db_url: str) -> None:
    store = await Store.open(db_url, cooldown_s=30)
    try:
        await submit(store, 1)
        with pytest.raises(QueueRefused) as refused:
            await store.admit(1, None, None, 64)
        assert refused.value.code == "cooldown" and "wait 30 s" in refused.value.message
        store.clock = lambda: datetime.now(UTC) + timedelta(seconds=25)
        with pytest.raises(QueueRefused) as refused:
            await store.admit(1, None, None, 64)
        assert "wait 5 s" in refused.value.message
        await store.admit(2, None, None, 64)  # only the same user waits
    finally:
        await store.close()


async def test_admit_is_one_read_of_two_statements(limited: Store) -> None:
    await limited.set_guild_settings(10, allowed_channel_ids=[100])
    statements: list[str] = []

    def record(conn, cursor, statement, params, context, executemany) -> None:
        statements.append(statement.split()[0].upper())

    sync_engine = limited.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", record)
    try:
        await limited.admit(1, 10, 100, 64)
    finally:
        event.remove(sync_engine, "before_cursor_execute", record)
    assert [s for s in statements if s not in ("BEGIN", "COMMIT", "ROLLBACK")] == [
        "SELECT",
        "SELECT",
    ]


@pytest.mark.parametrize(
    ("saved", "expected"),
    [
        (None, (3, 1024)),  # a DM: the operator's limits
        (GuildSettings(1), (3, 1024)),  # nothing saved
        (GuildSettings(1, per_user_queue_limit=1, max_size=256), (1, 256)),
        (GuildSettings(1, per_user_queue_limit=100, max_size=4096), (3, 1024)),
    ],
)
def test_clamp_limits(saved: GuildSettings | None, expected: tuple[int, int]) -> None:
    limits = clamp_limits(saved, per_user_cap=3, max_size_cap=1024)
    assert isinstance(limits, GuildLimits)
    assert (limits.per_user_queue_limit, limits.max_size) == expected


def test_a_store_without_a_size_ceiling_takes_the_guilds() -> None:
    limits = clamp_limits(GuildSettings(1, max_size=300), per_user_cap=3, max_size_cap=None)
    assert limits.max_size == 300


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
