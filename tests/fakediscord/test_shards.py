"""Self-tests of sharding (issue 13): several gateway sessions, one per shard, each told only of
its own guilds and sent only its own guilds' interactions (DMs: shard 0), with real discord.py
clients in one process."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest

from tests.fakediscord import FakeDiscord, redirect_discord_py, run_bot

pytestmark = pytest.mark.timeout(60)


@contextlib.asynccontextmanager
async def sharded(n: int = 2) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(shard_count=n) as fake:
        with redirect_discord_py(fake):
            yield fake


class Recorder:
    """What one client saw: interaction ids."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        self.seen.append(str(interaction.id))


class ShardClient(discord.Client):
    def __init__(self, **options: Any) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.05, **options)
        self.rec = Recorder()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.rec.on_interaction(interaction)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        pass  # discord.py sleeps 5 s before each non-initial IDENTIFY


class AutoSharded(discord.AutoShardedClient):
    def __init__(self, **options: Any) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.05, **options)
        self.rec = Recorder()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.rec.on_interaction(interaction)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        pass


async def test_shard_of_and_add_guild_on_a_shard() -> None:
    async with sharded(3) as fake:
        ids = [fake.add_guild(f"g{k}", shard=k % 3) for k in range(9)]
        assert [(int(g) >> 22) % 3 for g in ids] == [k % 3 for k in range(9)]
        assert [fake.shard_of(g) for g in ids] == [k % 3 for k in range(9)]
        assert ids == sorted(ids, key=int) and len(set(ids)) == 9  # still monotonic
        assert int(fake.ids.next()) > int(ids[-1])
        assert fake.shard_of(None) == 0 and fake.shard_of(ids[1], 1) == 0
        with pytest.raises(ValueError):
            fake.add_guild("nowhere", shard=3)


async def test_two_clients_each_get_only_their_shard() -> None:
    async with sharded(2) as fake:
        g0, g1 = fake.add_guild("zero", shard=0), fake.add_guild("one", shard=1)
        c0, c1 = ShardClient(shard_id=0, shard_count=2), ShardClient(shard_id=1, shard_count=2)
        async with run_bot(c0, fake), run_bot(c1, fake):
            await fake.wait_ready()
            assert {fake.shard_of(g.id) for g in c0.guilds} == {0}
            assert {fake.shard_of(g.id) for g in c1.guilds} == {1}
            assert g0 in {str(g.id) for g in c0.guilds} and g1 in {str(g.id) for g in c1.guilds}
            in0 = await fake.slash("ping", guild=g0)
            in1 = await fake.slash("ping", guild=g1)
            dm = await fake.slash("ping", dm=True, user=fake.bob)
            late = fake.add_guild("late", shard=1)  # announced to shard 1 only
            in_late = await fake.slash("ping", guild=late)
            await fake.wait_until(lambda: len(c0.rec.seen) + len(c1.rec.seen) == 4)
            await fake.wait_until(lambda: c1.get_guild(int(late)) is not None)
            assert c0.get_guild(int(late)) is None
        assert c0.rec.seen == [in0, dm] and c1.rec.seen == [in1, in_late]
        assert [fake.interaction(i).shard for i in (in0, in1, dm)] == [(0, 2), (1, 2), (0, 2)]
        shards = [e.d["shard"] for e in fake.gateway.log if e.direction == "in" and e.op == 2]
        assert sorted(shards) == [[0, 2], [1, 2]]
        creates = [e for e in fake.gateway.log if e.t == "INTERACTION_CREATE"]
        assert {e.d["id"]: e.shard for e in creates} == {
            in0: (0, 2),
            in1: (1, 2),
            dm: (0, 2),
            in_late: (1, 2),
        }


async def test_a_restarted_shard_takes_over() -> None:
    """A killed shard process comes back with a fresh IDENTIFY: its guilds go to the new
    session; the other shard is untouched."""
    async with sharded(2) as fake:
        g0 = fake.add_guild("zero", shard=0)
        first, other = (
            ShardClient(shard_id=0, shard_count=2),
            ShardClient(shard_id=1, shard_count=2),
        )
        async with run_bot(other, fake):
            async with run_bot(first, fake):
                await fake.wait_ready()
                before = await fake.slash("ping", guild=g0)
                await fake.wait_until(lambda: first.rec.seen == [before])
            again = ShardClient(shard_id=0, shard_count=2)
            async with run_bot(again, fake):
                after = await fake.slash("ping", guild=g0)
                await fake.wait_until(lambda: again.rec.seen == [after])
        assert other.rec.seen == [] and first.rec.seen == [before]
        assert fake.interaction(before).session_id != fake.interaction(after).session_id


async def test_auto_sharded_client_asks_gateway_bot() -> None:
    async with sharded(2) as fake:
        g1 = fake.add_guild("one", shard=1)
        bot = AutoSharded()  # no shard_count: discord.py asks GET /gateway/bot
        async with run_bot(bot, fake):
            await fake.wait_ready()
            iid = await fake.slash("ping", guild=g1)
            await fake.wait_until(lambda: bot.rec.seen == [iid])
            assert sorted(bot.shards) == [0, 1] and bot.shard_count == 2
            assert bot.get_guild(int(g1)).shard_id == 1  # type: ignore[union-attr]
        (gw,) = fake.find("GET", "/gateway/bot")
        assert gw.response["shards"] == 2
        assert gw.response["url"] == fake.gateway_url
        assert gw.response["session_start_limit"]["max_concurrency"] == 1
        assert fake.interaction(iid).shard == (1, 2)


async def test_unsharded_client_still_gets_everything() -> None:
    async with sharded(2) as fake:
        g1 = fake.add_guild("one", shard=1)
        bot = ShardClient()
        async with run_bot(bot, fake):
            await fake.wait_ready()
            assert len(bot.guilds) == 2
            a = await fake.slash("ping", guild=g1)
            b = await fake.slash("ping", dm=True)
            await fake.wait_until(lambda: bot.rec.seen == [a, b])
        assert fake.interaction(a).shard is None


async def test_invalid_shard_is_refused() -> None:
    async with sharded(2) as fake, aiohttp.ClientSession() as s:
        for shard in ([2, 2], [0, 0], [-1, 2], "0,2"):
            async with s.ws_connect(fake.gateway_url) as ws:
                hello = await ws.receive_json()
                assert hello["op"] == 10
                ident = {"token": fake.token, "intents": 0, "properties": {}, "shard": shard}
                await ws.send_str(json.dumps({"op": 2, "d": ident}))
                msg = await ws.receive()
                assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4010, shard
        assert fake.gateway.identifies == 0


async def test_disconnect_and_reconnect_one_shard() -> None:
    async with sharded(2) as fake:
        g1 = fake.add_guild("one", shard=1)
        c0, c1 = ShardClient(shard_id=0, shard_count=2), ShardClient(shard_id=1, shard_count=2)
        async with run_bot(c0, fake), run_bot(c1, fake):
            await fake.wait_ready()
            s0, s1 = fake.gateway.shard_session(0), fake.gateway.shard_session(1)
            assert s0 is not None and s1 is not None
            await fake.disconnect(shard=1)
            missed = await fake.slash("ping", guild=g1)  # waits for shard 1 to be back
            await fake.reconnect(shard=1)
            await fake.wait_until(lambda: s1.resumes == 2 and s1.open)
            await fake.wait_until(lambda: c1.rec.seen == [missed])
        assert s0.resumes == 0 and c0.rec.seen == []
        assert fake.interaction(missed).session_id == s1.id
