"""Two bot processes' worth of shards on one database: each bot (SHARD_COUNT=2, its own
SHARD_IDS) gets only its shard's interactions from the fake Discord and edits and delivers
only its shard's jobs (DMs: shard 0), so every result is posted once, by its owner."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest

from bot.discord_bot.client import shard_set
from bot.store.shards import ShardSet
from bot.store.types import DeliveryState
from tests.bot.discord_bot.conftest import BotEnv, make_settings, open_store, started_bot
from tests.bot.discord_bot.test_buttons import result_png
from tests.bot.discord_bot.test_stylize_flow import png, queued_card
from tests.fakediscord import FakeDiscord, redirect_discord_py

pytestmark = pytest.mark.timeout(90)


def test_shard_set_from_settings(tmp_path):
    assert shard_set(make_settings(tmp_path)) is None  # one process, every shard
    assert shard_set(make_settings(tmp_path, shard_count=2)) is None  # both here
    assert shard_set(make_settings(tmp_path, shard_count=2, shard_ids=[0, 1])) is None
    assert shard_set(make_settings(tmp_path, shard_count=4, shard_ids="1,3")) == ShardSet(
        4, frozenset({1, 3})
    )


async def stylize(env: BotEnv, **where) -> str:
    fake = env.fake
    content = fake.add_attachment(png(), "cat.png", "image/png")
    style = fake.add_attachment(png((48, 64)), "style.png", "image/png")
    iid = await fake.slash("stylize", {"content": content, "style": style}, **where)
    await queued_card(env, iid)
    return iid


async def test_two_shards_on_one_database_each_deliver_their_own_jobs(tmp_path):
    base = make_settings(tmp_path, shard_count=2, delivery_sweep_s=0.2)
    stores = [await open_store(base), await open_store(base)]  # two processes' connections
    try:
        async with FakeDiscord(shard_count=2) as fake, contextlib.AsyncExitStack() as stack:
            stack.enter_context(redirect_discord_py(fake))
            guilds = [fake.add_guild("zero", shard=0), fake.add_guild("one", shard=1)]
            bots = []
            for shard, store in enumerate(stores):
                settings = base.model_copy(update={"shard_ids": [shard]})
                bots.append(await stack.enter_async_context(started_bot(fake, store, settings)))
            await fake.wait_ready()
            envs = [BotEnv(fake, bot, store, base) for bot, store in zip(bots, stores, strict=True)]
            iids = {
                "zero": await stylize(envs[0], guild=guilds[0], user=fake.alice),
                "one": await stylize(envs[1], guild=guilds[1], user=fake.bob),
                "dm": await stylize(envs[0], dm=True, user=fake.user("carol")),
            }
            assert {k: fake.interaction(i).shard[0] for k, i in iids.items()} == {
                "zero": 0,
                "one": 1,
                "dm": 0,
            }
            # Queued cards of the other shard's jobs are never refreshed by this bot.
            active = {k: await stores[k].active_jobs(shards=bots[k].watcher.shards) for k in (0, 1)}
            assert {j.guild_id for j in active[0]} == {int(guilds[0]), None}
            assert {j.guild_id for j in active[1]} == {int(guilds[1])}
            # Nor are their progress edits: the watcher polls changes of its own shards only.
            since = min(j.created_at for j in active[0] + active[1]) - timedelta(seconds=1)
            changed = {
                k: await stores[k].updated_since(since, shards=bots[k].watcher.shards)
                for k in (0, 1)
            }
            assert {j.id for j in changed[0]} == {j.id for j in active[0]}
            assert {j.id for j in changed[1]} == {j.id for j in active[1]}
            while (claimed := await stores[0].claim("w1")) is not None:
                await stores[0].complete(
                    claimed.job.id, "w1", result_png(), 64, 48, 0.1, token=claimed.token
                )

            async def all_delivered():
                jobs = await stores[0].recent_jobs(limit=10)
                return (
                    jobs if all(j.delivery.state == DeliveryState.DELIVERED for j in jobs) else None
                )

            jobs = {j.guild_id: j for j in await fake.wait_until(all_delivered, timeout=20)}
            holders = [bot.watcher.holder for bot in bots]
            assert jobs[int(guilds[0])].delivery.holder == holders[0]
            assert jobs[None].delivery.holder == holders[0]  # DMs belong to shard 0
            assert jobs[int(guilds[1])].delivery.holder == holders[1]
            assert bots[0].watcher.deliveries == {"interaction": 2}
            assert bots[1].watcher.deliveries == {"interaction": 1}
            for job in jobs.values():
                (only,) = fake.result_messages(rf"pastiche-{job.id}\.", has_files=True)
                assert only.where == "original"
    finally:
        for store in stores:
            await store.close()
