"""Self-tests of the fake's world: option types, DMs, several guilds, message visibility, and
the waiting helpers."""

from __future__ import annotations

import aiohttp
import pytest

from tests.fakediscord import FakeDiscord, FakeDiscordError, run_bot
from tests.fakediscord.sample_bot import make_bot, png

pytestmark = pytest.mark.timeout(30)


async def test_option_types_resolve_to_real_objects(fake: FakeDiscord) -> None:
    art = fake.add_channel("art")
    ada = fake.add_user("ada", admin=True)
    bot = make_bot()
    async with run_bot(bot, fake):
        options = {"who": fake.bob, "where": fake.channels[art], "n": 3, "x": 0.5}
        iid = await fake.slash("opts", {**options, "flag": True, "text": "hi"}, user=ada)
        reply = await fake.wait_until(lambda: fake.original(iid))
    assert reply.content == f"Member bob|art|3|0.5|True|hi|guild {fake.guild_id}|admin=True"
    sent = fake.interaction(iid).payload["data"]
    assert sorted(o["type"] for o in sent["options"]) == [3, 4, 5, 6, 7, 10]
    assert set(sent["resolved"]) == {"users", "members", "channels"}


async def test_dm_and_second_guild(fake: FakeDiscord) -> None:
    other = fake.add_guild("Second")
    bot = make_bot()
    async with run_bot(bot, fake):
        assert bot.get_guild(int(other)) is not None
        opts = {"who": fake.alice, "n": 1, "x": 1.0, "flag": False, "text": "t"}
        dm = await fake.slash("opts", opts, dm=True, user="bob")
        there = await fake.slash("opts", opts, guild=other)
        dm_reply = await fake.wait_until(lambda: fake.original(dm))
        guild_reply = await fake.wait_until(lambda: fake.original(there))
    assert dm_reply.content.startswith("User alice|") and "|dm|" in dm_reply.content
    assert dm_reply.channel_id == fake.dm_channel("bob")
    assert f"|guild {other}|" in guild_reply.content
    assert "member" not in fake.interaction(dm).payload


async def test_ephemeral_messages_are_invisible_to_channel_routes(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        target = fake.post_user_message("x", attachments=[fake.add_attachment(png(), "a b.png")])
        iid = await fake.context_menu("Inspect", target)
        reply = await fake.wait_until(lambda: fake.original(iid))
        channel = bot.get_partial_messageable(int(fake.channel_id))
        with pytest.raises(Exception) as info:
            await channel.fetch_message(int(reply.id))
        history = [m.id async for m in channel.history(limit=10)]
    assert reply.ephemeral and getattr(info.value, "code", None) == 10008
    assert history == [int(target.id)]
    url = target.attachments[0]["url"]
    assert "/a%20b.png?ex=" in url
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        assert r.status == 200 and (await r.read()).startswith(b"\x89PNG")


async def test_wait_until_tolerates_not_yet_and_awaits_async_conditions(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        iid = await fake.slash("echo", {"image": fake.add_attachment(png(), "a.png")})
        # `original(iid)` is None until the bot answers: AttributeError counts as "not yet".
        await fake.wait_until(lambda: fake.original(iid).attachments)

        async def answered() -> bool:
            return fake.interaction(iid).acked_type == 5

        assert await fake.wait_until(answered)
        with pytest.raises(FakeDiscordError, match="last error in the condition"):
            await fake.wait_until(lambda: fake.original("0").content, timeout=0.2)
        call = await fake.wait_for(lambda c: c.method == "PATCH", since=0)
        with pytest.raises(FakeDiscordError, match="timed out"):
            await fake.wait_for(lambda c: c.method == "PATCH", since=len(fake.calls), timeout=0.2)
    assert call.ok


async def test_autocomplete_and_single_command_routes(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        synced = {c.name: c for c in await bot.tree.sync()}
        iid = await fake.autocomplete("preset", {"name": "st"}, focused="name")
        choices = await fake.wait_until(lambda: fake.interaction(iid).choices)
        fetched = await bot.tree.fetch_command(synced["preset"].id)
        await fetched.delete()
    assert choices == [{"name": "standard", "value": "standard"}]
    assert fetched.name == "preset" and "preset" not in fake.commands
    assert not fake.unknown_calls


async def test_press_crafts_a_click_where_the_user_is(fake: FakeDiscord) -> None:
    other = fake.add_guild("Second")
    bot = make_bot()
    async with run_bot(bot, fake):
        await bot.tree.sync()
        in_dm = await fake.press("echo:invert", user="bob", dm=True)
        there = await fake.press("echo:invert", guild=other)
        dm_msg = await fake.wait_until(lambda: fake.messages[fake.original(in_dm).id])
        guild_msg = await fake.wait_until(lambda: fake.messages[fake.original(there).id])
        typed = await fake.autocomplete("preset", {"name": "f"}, focused="name", dm=True)
        choices = await fake.wait_until(lambda: fake.interaction(typed).choices)
    # The bot answered with an edit (type 7) of the crafted message, in the place asked for.
    assert dm_msg.content == "inverted by bob" and dm_msg.channel_id == fake.dm_channel("bob")
    assert guild_msg.content == "inverted by alice"
    assert fake.interaction(there).guild_id == other
    assert fake.interaction(typed).guild_id is None and choices[0]["value"] == "fast"
    with pytest.raises(ValueError, match="no component"):
        await fake.click(guild_msg, "other:id")
