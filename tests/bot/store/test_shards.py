"""Discord's shard rule in Python and as SQL agree on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import combinations

import pytest

from bot.store import ShardSet, Store, shard_of
from tests.bot.store.helpers import submit

# Real-looking snowflakes (2015..2026), small ids, and ids near the 64-bit top.
GUILDS = [
    None,
    0,
    1,
    (1 << 22) - 1,
    1 << 22,
    3 << 22,
    81384788765712384,
    175928847299117063,
    613425648685547541,
    1234567890123456789,
    (1 << 63) - 1,
]


def test_shard_of_follows_discords_rule() -> None:
    assert shard_of(None, 4) == 0  # DMs belong to shard 0
    assert shard_of(81384788765712384, 1) == 0
    assert shard_of(81384788765712384, 4) == (81384788765712384 >> 22) % 4
    assert [shard_of(n << 22, 3) for n in range(6)] == [0, 1, 2, 0, 1, 2]
    with pytest.raises(ValueError):
        shard_of(1, 0)


def test_shard_set_checks_its_ids() -> None:
    assert ShardSet.all(3) == ShardSet(3, frozenset({0, 1, 2}))
    assert ShardSet.all().owns(None) and ShardSet.all().owns(1 << 40)
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        ShardSet(2, frozenset({2}))
    with pytest.raises(ValueError, match="at least one"):
        ShardSet(2, frozenset())


async def test_python_and_sql_agree(store: Store) -> None:
    store.per_user_queue_limit = 100
    job_guild = {}
    for n, guild in enumerate(GUILDS):
        job_guild[await submit(store, 1, f"g{n}", guild=guild)] = guild
    for count in (1, 2, 3, 4):
        for size in range(1, count + 1):
            for ids in combinations(range(count), size):
                shards = ShardSet(count, frozenset(ids))
                expected = sorted(j for j, g in job_guild.items() if shards.owns(g))
                active = [j.id for j in await store.active_jobs(shards=shards)]
                assert sorted(active) == expected, shards
    # Every job lands in exactly one shard of a partition.
    halves = [ShardSet(2, frozenset({i})) for i in (0, 1)]
    owned = [{j.id for j in await store.active_jobs(shards=s)} for s in halves]
    assert owned[0].isdisjoint(owned[1]) and owned[0] | owned[1] == set(job_guild)


async def test_updated_since_filters_by_shard(store: Store) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    dm = await submit(store, 1, "dm")
    g1 = await submit(store, 2, "g1", guild=1 << 22)
    shard1 = ShardSet(2, frozenset({1}))
    assert [j.id for j in await store.updated_since(since, shards=shard1)] == [g1]
    assert [j.id for j in await store.updated_since(since, shards=ShardSet(2, frozenset({0})))] == [
        dm
    ]
    assert [j.id for j in await store.updated_since(since)] == [dm, g1]
