"""Self-tests: the real discord.py client against the fake, over real HTTP and websockets."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import discord
import pytest

from tests.fakediscord import FakeDiscord, FakeDiscordError, run_bot
from tests.fakediscord.sample_bot import make_bot, png

pytestmark = pytest.mark.timeout(30)
NAMES = {"echo", "later", "notify", "oops", "edits", "opts", "preset", "ask", "Inspect"}
ROOT = Path(__file__).resolve().parents[2]


async def test_login_and_command_sync(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        synced = await bot.tree.sync()
        assert {c.name for c in synced} == NAMES
        guild = discord.Object(int(fake.guild_id))
        bot.tree.copy_global_to(guild=guild)
        await bot.tree.sync(guild=guild)
        resynced = await bot.tree.sync()
        assert str(bot.user.id) == fake.app_id  # type: ignore[union-attr]
        assert (await bot.application_info()).owner.id == int(fake.owner["id"])
        assert await bot.is_owner(discord.Object(int(fake.owner["id"])))  # type: ignore[arg-type]
        assert bot.get_guild(int(fake.guild_id)) is not None
        assert bot.get_channel(int(fake.channel_id)) is not None
    assert {c.id for c in synced} == {c.id for c in resynced}  # ids survive a re-sync
    assert set(fake.commands) == NAMES and set(fake.guild_commands[fake.guild_id]) == NAMES
    assert f"/applications/{fake.app_id}/guilds/{fake.guild_id}/commands" in {
        c.path for c in fake.calls
    }
    assert not fake.unknown_calls
    assert all(c.headers.get("Authorization") == "<redacted>" for c in fake.calls)
    assert all(c.authorized for c in fake.calls)
    assert fake.token not in repr(fake.gateway.log)


async def test_slash_defer_download_edit_with_file(fake: FakeDiscord) -> None:
    bot = make_bot()
    image = png()
    async with run_bot(bot, fake):
        att = fake.add_attachment(image, "cat.png")
        iid = await fake.slash("echo", {"image": att, "caption": "hi"})
        edit = await fake.wait_for(lambda c: c.method == "PATCH" and bool(c.files))
    defer = fake.find("POST", rf"/interactions/{iid}/.+/callback")[0]
    assert defer.json == {"type": 5} and defer.status == 200
    assert defer.response["interaction"]["response_message_loading"] is True
    assert [c.status for c in fake.calls if c.is_cdn] == [200]
    assert edit.path.endswith("/messages/@original")
    assert edit.files[0].filename == "echo.png" and edit.files[0].data == image
    assert edit.json["attachments"][0]["filename"] == "echo.png"
    msg = fake.original(iid)
    assert msg is not None and not msg.loading and msg.edits == 1
    assert msg.content == f"hi {len(image)} bytes from alice"
    assert msg.file(0) == image and msg.custom_ids() == ["echo:invert"]
    assert msg.attachments[0]["width"] == 64
    assert fake.interaction(iid).acked_type == 5
    assert bot.limits == [fake.attachment_size_limit]


async def test_button_round_trip(fake: FakeDiscord) -> None:
    bot = make_bot()
    image = png()
    async with run_bot(bot, fake):
        iid = await fake.slash("echo", {"image": fake.add_attachment(image, "a.png")})
        msg = await fake.wait_until(lambda: (m := fake.original(iid)) and m.custom_ids() and m)
        click = await fake.click(msg, "echo:invert", user="bob")
        await fake.wait_until(lambda: "inverted" in msg.content)
        with pytest.raises(ValueError, match="no component"):
            await fake.click(msg, "nope")
    assert msg.content == "inverted by bob"
    assert fake.interaction(click).acked_type == 7
    assert msg.file(0) == image  # an update without `attachments` keeps them


async def test_persistent_button_after_bot_restart(fake: FakeDiscord) -> None:
    first = make_bot()
    async with run_bot(first, fake):
        iid = await fake.slash("echo", {"image": fake.add_attachment(png(), "a.png")})
        msg = await fake.wait_until(lambda: (m := fake.original(iid)) and m.custom_ids() and m)
    second = make_bot()
    async with run_bot(second, fake):
        await fake.click(msg, "echo:invert", user="bob")
        await fake.wait_until(lambda: msg.content == "inverted by bob")
    assert fake.gateway.identifies == 2


async def test_context_menu_on_a_user_message(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        a, b = fake.add_attachment(png(), "c.png"), fake.add_attachment(png(), "s.png")
        target = fake.post_user_message("two images", attachments=[a, b])
        iid = await fake.context_menu("Inspect", target, user="bob")
        reply = await fake.wait_until(lambda: fake.original(iid))
    assert reply.content == f"{target.id}:c.png,s.png" and target.file(1) == png()
    assert reply.ephemeral and fake.interaction(iid).acked_type == 4


async def test_modal_round_trip(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        opened = await fake.slash("ask")
        await fake.wait_until(lambda: fake.interaction(opened).modal)
        submitted = await fake.submit_modal(opened, {"ask:q": "why?"})
        reply = await fake.wait_until(lambda: fake.original(submitted))
    assert fake.interaction(opened).modal["title"] == "Ask"  # type: ignore[index]
    assert reply.content == "you asked: why?"


async def test_channel_message_edit_and_followup(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        iid = await fake.slash("notify", user="bob")
        await fake.wait_until(lambda: fake.followups(iid))
    posted = fake.channel_messages()
    mention = f"<@{fake.bob['id']}>"
    assert next(m.content for m in posted if not m.ephemeral) == f"{mention} done (edited)"
    assert posted[1].payload["mentions"] == [fake.bob]
    assert fake.followups(iid)[0].content == "follow-up"
    assert fake.original(iid).ephemeral  # type: ignore[union-attr]
    assert not fake.dm_messages("bob")


async def test_dm_fallback_when_channel_refuses(fake: FakeDiscord) -> None:
    bot = make_bot()
    fake.forbid_channel(fake.channel_id, 50013)
    async with run_bot(bot, fake):
        iid = await fake.slash("notify", user="bob")
        await fake.wait_until(lambda: fake.followups(iid))
    refused = fake.find("POST", rf"/channels/{fake.channel_id}/messages")
    assert [c.status for c in refused] == [403] and refused[0].error_code == 50013
    assert isinstance(bot.errors[0], discord.Forbidden) and bot.errors[0].code == 50013
    assert [m.content for m in fake.dm_messages("bob")] == ["done (by DM)"]
    assert str(fake.find("POST", "/users/@me/channels")[0].json["recipient_id"]) == fake.bob["id"]


async def test_bot_task_death_fails_waits_at_once(fake: FakeDiscord) -> None:
    bot = make_bot()
    with pytest.raises(FakeDiscordError, match=r"ended early|error"):
        async with run_bot(bot, fake):
            # A gateway payload discord.py cannot parse ends Client.start().
            await fake.gateway.dispatch("READY", {"broken": True})
            await fake.wait_until(lambda: False, timeout=10)


async def test_wrong_token_fails_login(fake: FakeDiscord) -> None:
    with pytest.raises(FakeDiscordError) as info:
        async with run_bot(make_bot(), fake, token="not-the-token"):
            pass
    assert isinstance(info.value.__cause__, discord.LoginFailure)


async def test_command_errors_fail_the_test(fake: FakeDiscord) -> None:
    bot = make_bot()
    with pytest.raises(FakeDiscordError, match="no attribute 'read'"):
        async with run_bot(bot, fake):
            await fake.slash("echo", {"image": "not-an-attachment"})  # malformed on purpose
            await fake.wait_until(lambda: False, timeout=10)


async def test_disconnect_resumes_and_replays(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        await fake.disconnect()
        await fake.wait_ready()
        iid = await fake.slash("later")
        await fake.wait_until(lambda: iid in bot.seen)
        await fake.reconnect()
        await fake.wait_until(lambda: fake.gateway.resumes >= 2)
        await fake.wait_ready()
        # An event sent while the socket is down is replayed on RESUME.
        session = fake.gateway.current
        await fake.disconnect()
        iid2, _ = await _dispatch_while_down(fake, session)
        await fake.wait_until(lambda: iid2 in bot.seen)
    assert fake.gateway.identifies == 1 and fake.gateway.resumes == 3


async def _dispatch_while_down(fake: FakeDiscord, session: object) -> tuple[str, int]:
    payload, inter = fake._envelope(2, {"name": "later", "type": 1, "id": "1"}, None, None, False)
    seq = await fake.gateway._dispatch_to(session, "INTERACTION_CREATE", payload)  # type: ignore[arg-type]
    return inter.id, seq


async def test_invalid_session_reidentifies(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        await fake.gateway.invalidate()
        await fake.wait_until(lambda: fake.gateway.identifies == 2 and fake.gateway.connected)
        iid = await fake.slash("later")
        await fake.wait_until(lambda: iid in bot.seen)


async def test_bot_in_a_separate_process(fake: FakeDiscord) -> None:
    """Nothing depends on being in-process: a child configured by env vars works end to end."""
    env = {**os.environ, **fake.env(), "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakediscord.demo_bot", env=env, cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    fake.watch(proc)
    try:
        await fake.wait_until(lambda: "ping" in fake.commands, timeout=20)
        image = png(size=32)
        iid = await fake.slash("ping", {"image": fake.add_attachment(image, "p.png")})
        msg = await fake.wait_until(lambda: (m := fake.original(iid)) and m.attachments and m)
        assert msg.content == "pong" and msg.file(0) == image
    finally:
        fake.unwatch(proc)
        proc.terminate()
        await proc.wait()
