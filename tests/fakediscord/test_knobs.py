"""Self-tests of the fake's realism knobs: token expiry, 429s, upload limit, refusals, the
interaction deadline, Discord's body limits, the CDN, and raw HTTP details."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest

from tests.fakediscord import FakeDiscord, redirect_discord_py, run_bot
from tests.fakediscord.sample_bot import make_bot, png

pytestmark = pytest.mark.timeout(30)
ORIGINAL = r"/webhooks/\d+/[^/]+/messages/@original"


@contextlib.asynccontextmanager
async def started(**options: Any) -> AsyncIterator[FakeDiscord]:
    """A fake with non-default options, discord.py redirected to it."""
    async with FakeDiscord(**options) as fake:
        with redirect_discord_py(fake):
            yield fake


def hook(fake: FakeDiscord, bot: discord.Client, iid: str) -> discord.Webhook:
    """The interaction's webhook, as discord.py builds it for followups and edits."""
    return discord.Webhook.partial(int(fake.app_id), fake.interaction(iid).token, client=bot)


async def deferred(fake: FakeDiscord, bot: discord.Client) -> str:
    iid = await fake.slash("later")
    await fake.wait_until(lambda: iid in bot.seen)  # type: ignore[attr-defined]
    return iid


async def test_expire_token_on_demand(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        iid = await deferred(fake, bot)
        fake.expire_token(fake.interaction(iid).token)
        with pytest.raises(discord.HTTPException) as info:
            await hook(fake, bot, iid).edit_message("@original", content="late")  # type: ignore[arg-type]
        channel = bot.get_partial_messageable(int(fake.channel_id))
        await channel.send("delivered in the channel instead")
    assert info.value.status == 401 and info.value.code == 50027
    assert "Invalid Webhook Token" in info.value.text
    assert fake.find("PATCH", ORIGINAL)[0].note == "interaction token expired"
    assert fake.channel_messages()[-1].content == "delivered in the channel instead"


async def test_token_expires_after_ttl(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        iid = await deferred(fake, bot)
        await hook(fake, bot, iid).edit_message("@original", content="in time")  # type: ignore[arg-type]
        fake.token_ttl_s = 0.05  # the token is older than that by now, or soon
        inter = fake.interaction(iid)
        await fake.wait_until(lambda: inter.expired(fake.token_ttl_s), timeout=5)
        with pytest.raises(discord.HTTPException) as info:
            await hook(fake, bot, iid).edit_message("@original", content="late")  # type: ignore[arg-type]
    assert info.value.code == 50027
    assert fake.original(iid).content == "in time"  # type: ignore[union-attr]


async def test_injected_429_is_retried_and_recorded(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        iid = await deferred(fake, bot)
        fake.inject("PATCH", ORIGINAL, 429, {"retry_after": 0.05})
        await hook(fake, bot, iid).edit_message("@original", content="after a 429")  # type: ignore[arg-type]
        fake.inject("POST", r"/channels/\d+/messages", 429, {"retry_after": 0.05})
        await bot.get_partial_messageable(int(fake.channel_id)).send("channel after a 429")
    assert [c.status for c in fake.find("PATCH", ORIGINAL)] == [429, 200]
    assert [c.status for c in fake.find("POST", r"/channels/\d+/messages")] == [429, 200]
    assert fake.original(iid).content == "after a 429"  # type: ignore[union-attr]


@pytest.mark.parametrize("advertise", [True, False])
async def test_rate_limit_rule_limits_edits_of_one_message(
    fake: FakeDiscord, advertise: bool
) -> None:
    bot = make_bot()
    rule = fake.rate_limit("PATCH", ORIGINAL, limit=2, window_s=0.2, advertise=advertise)
    async with run_bot(bot, fake):
        iid = await fake.slash("edits", {"n": 5})
        await fake.wait_until(lambda: iid in bot.seen)
    edits = fake.find("PATCH", ORIGINAL)
    ok = [c for c in edits if c.ok]
    assert len(ok) == 5 and all(c.status in (200, 429) for c in edits)
    assert fake.original(iid).content == "edit 5/5"  # type: ignore[union-attr]
    assert rule.limited == sum(1 for c in edits if c.status == 429)
    if advertise:  # discord.py reads X-RateLimit-Remaining: 0 and waits by itself
        assert ok[0].response_headers["X-RateLimit-Limit"] == "2" and rule.limited == 0
    else:  # it only learns from 429s, which it retries after retry_after
        assert rule.limited >= 1 and "X-RateLimit-Limit" not in ok[0].response_headers
        limited = next(c for c in edits if c.status == 429)
        assert limited.response["retry_after"] > 0 and limited.response_headers["Via"]
    # Either way the fake let at most `limit` edits through per window.
    for a, b in zip(ok, ok[2:], strict=False):
        assert b.time - a.time >= rule.window_s * 0.99


async def test_upload_over_the_limit_is_413() -> None:
    async with started(attachment_size_limit=2000) as fake:
        bot = make_bot()
        async with run_bot(bot, fake, error_loggers=()):
            big = png(size=64) + bytes(5000)  # the bot echoes it back: over 2000 bytes
            await fake.slash("echo", {"image": fake.add_attachment(big, "big.png")})
            call = await fake.wait_for(lambda c: c.method == "PATCH")
            await fake.wait_until(lambda: bot.errors)
    assert call.status == 413 and call.error_code == 40005 and call.files[0].size == len(big)
    assert bot.limits == [2000]
    err = bot.errors[0]
    assert isinstance(err, discord.app_commands.CommandInvokeError)
    assert isinstance(err.original, discord.HTTPException) and err.original.code == 40005


async def test_closed_dms_are_403_50007(fake: FakeDiscord) -> None:
    fake.forbid_channel(fake.channel_id)
    fake.close_dms("bob")
    bot = make_bot()
    async with run_bot(bot, fake, error_loggers=()):
        await fake.slash("notify", user="bob")
        await fake.wait_until(lambda: len(bot.errors) >= 2)
    assert bot.errors[0].code == 50001  # type: ignore[attr-defined]
    assert bot.errors[1].original.code == 50007  # type: ignore[attr-defined]
    assert not fake.dm_messages("bob")


async def test_late_and_double_acknowledgements() -> None:
    async with started(ack_deadline_s=0.0) as fake:
        bot = make_bot()
        async with run_bot(bot, fake, error_loggers=()):
            iid = await fake.slash("later")
            await fake.wait_until(lambda: iid in bot.seen)
    assert fake.calls[-1].error_code == 10062 and "deadline" in fake.calls[-1].note
    assert fake.interaction(iid).acked_type is None
    async with started() as fake:
        bot = make_bot()
        async with run_bot(bot, fake):
            iid = await deferred(fake, bot)
            url = f"{fake.base_url}/interactions/{iid}/{fake.interaction(iid).token}/callback"
            async with aiohttp.ClientSession() as http, http.post(url, json={"type": 5}) as r:
                assert r.status == 400 and (await r.json())["code"] == 40060


async def test_discord_limits_are_enforced(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        iid = await deferred(fake, bot)
        view = discord.ui.View()
        view.add_item(discord.ui.Button(label="x", custom_id="j" * 101))
        webhook = hook(fake, bot, iid)
        with pytest.raises(discord.HTTPException) as too_long:
            await webhook.edit_message("@original", view=view)  # type: ignore[arg-type]
        with pytest.raises(discord.HTTPException) as content:
            await webhook.send("x" * 2001)
        with pytest.raises(discord.HTTPException) as empty:
            await bot.get_partial_messageable(int(fake.channel_id)).send("")
    assert too_long.value.status == 400 and too_long.value.code == 50035
    assert "components.0.components.0.custom_id" in too_long.value.text
    assert content.value.code == 50035 and empty.value.code == 50006


async def test_cdn_knobs_and_raw_http_details(fake: FakeDiscord) -> None:
    data = png()
    liar = fake.add_attachment(data, "x.png", "image/png", declared_size=50_000_000)
    gone = fake.add_attachment(data, "gone.png", fail_status=404)
    chunked = fake.add_attachment(data, "c.png", chunk_delay_s=0.01, send_length=False)
    assert liar["size"] == 50_000_000 and liar["content_type"] == "image/png"
    async with aiohttp.ClientSession() as http:
        async with http.get(liar["url"]) as r:
            assert r.status == 200 and await r.read() == data
        async with http.get(gone["url"]) as r:
            assert r.status == 404
        async with http.get(chunked["url"]) as r:
            assert "Content-Length" not in r.headers and await r.read() == data
        headers = {"Authorization": f"Bot {fake.token}"}
        async with http.get(f"{fake.base_url}/users/@me", headers=headers) as r:
            assert r.headers["Content-Type"] == "application/json"  # no charset
        async with http.get(f"{fake.base_url}/users/@me") as r:
            assert r.status == 401
        async with http.post(f"{fake.base_url}/nope", headers=headers) as r:
            assert r.status == 404 and r.headers["Content-Type"] == "application/json"
            assert "no route" in (await r.json())["message"]
    assert [c.path for c in fake.unknown_calls] == ["/nope"]
    assert [c.status for c in fake.calls if c.is_cdn] == [200, 404, 200]
    assert fake.store.cdn[liar["id"]].downloads == 1


async def test_multipart_parsed_once_with_payload_json(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        iid = await deferred(fake, bot)
        files = [
            discord.File(io.BytesIO(b"a" * 10), "a.txt"),
            discord.File(io.BytesIO(b"b"), "b.txt"),
        ]
        msg = await hook(fake, bot, iid).send("two files", files=files, wait=True)
        await msg.edit(attachments=[msg.attachments[1]])  # keep only b.txt
    post = fake.find("POST", r"/webhooks/.+")[0]
    assert [(f.index, f.filename, f.size) for f in post.files] == [
        (0, "a.txt", 10),
        (1, "b.txt", 1),
    ]
    assert post.json["content"] == "two files"
    stored = fake.followups(iid)[0]
    assert [a["filename"] for a in stored.attachments] == ["b.txt"] and stored.file(0) == b"b"
    assert stored.edits == 1 and len(stored.history[0]["attachments"]) == 2


async def test_first_followup_after_defer_fills_the_deferred_response(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        iid = await fake.slash("oops")  # a public defer, then two "ephemeral" follow-ups
        await fake.wait_until(lambda: len(bot.seen) == 2)
    original = fake.original(iid)
    assert original is not None and bot.seen[0] == original.id
    assert original.content == "meant to be private" and not original.ephemeral
    assert not original.loading and original.edits == 0
    assert [m.id for m in fake.followups(iid)] == bot.seen
    assert fake.followups(iid)[1].ephemeral
    assert fake.find("POST", r"/webhooks/.+")[0].note.startswith("first follow-up")


async def test_broken_json_is_400_50109_not_a_crash(fake: FakeDiscord) -> None:
    headers = {"Authorization": f"Bot {fake.token}", "Content-Type": "application/json"}
    url = f"{fake.base_url}/channels/{fake.channel_id}/messages"
    async with aiohttp.ClientSession() as http, http.post(url, data=b"{nope", headers=headers) as r:
        assert r.status == 400 and (await r.json())["code"] == 50109
    assert fake.calls[-1].note.startswith("unparsable body") and not fake.failures
