"""Self-tests of the knobs for exactly-once delivery (issue 13): message nonces with
enforce_nonce, chaos (429 / 5xx / connection resets, before or after the handler ran), and
counting the messages that carry a result marker."""

from __future__ import annotations

import io
from typing import Any

import aiohttp
import discord
import pytest

from tests.fakediscord import FakeDiscord, RecordedCall, run_bot
from tests.fakediscord.sample_bot import make_bot, png

pytestmark = pytest.mark.timeout(60)
CHANNEL_POSTS = r"/channels/\d+/messages"


async def raw(fake: FakeDiscord, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One REST call with the bot token, outside discord.py (no retries, no nonce of its own)."""
    headers = {"Authorization": f"Bot {fake.token}"}
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, fake.base_url + path, json=body, headers=headers) as r,
    ):
        return r.status, await r.json(content_type=None)


def channel(bot: discord.Client, cid: str) -> discord.PartialMessageable:
    return bot.get_partial_messageable(int(cid))


# -- nonces --------------------------------------------------------------------------------------


async def test_discord_py_always_sends_a_nonce_with_enforce_nonce(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        await channel(bot, fake.channel_id).send("no nonce given")
        msg = await channel(bot, fake.channel_id).send("nonce given", nonce="job-7:channel")
    first, second = fake.find("POST", CHANNEL_POSTS)
    assert first.json["enforce_nonce"] is True and first.json["nonce"].isdigit()  # random
    assert second.json["nonce"] == "job-7:channel" and second.json["enforce_nonce"] is True
    assert msg.nonce == "job-7:channel"
    assert fake.messages[str(msg.id)].nonce == "job-7:channel"


async def test_same_nonce_returns_the_first_message_and_creates_nothing(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        general = channel(bot, fake.channel_id)
        first = await general.send("result of job 1", nonce="job-1")
        again = await general.send("result of job 1, posted again", nonce="job-1")
        other = await general.send("result of job 2", nonce="job-2")
        dm = channel(bot, fake.dm_channel(fake.alice))
        dm_first = await dm.send("job 1 by DM", nonce="job-1")  # another channel: a new message
        dm_again = await dm.send("job 1 by DM again", nonce="job-1")
    assert again.id == first.id and dm_again.id == dm_first.id
    assert len({first.id, other.id, dm_first.id}) == 3
    assert [m.content for m in fake.channel_messages()] == ["result of job 1", "result of job 2"]
    assert [m.content for m in fake.dm_messages(fake.alice)] == ["job 1 by DM"]
    posts = fake.find("POST", CHANNEL_POSTS)
    assert [c.status for c in posts] == [200] * 5
    assert posts[1].note == f"nonce 'job-1': duplicate of message {first.id}, nothing created"
    assert "duplicate" in posts[4].note and not posts[2].note


async def test_nonce_rules_over_raw_http(fake: FakeDiscord) -> None:
    path = f"/channels/{fake.channel_id}/messages"
    status, a = await raw(
        fake, "POST", path, {"content": "a", "nonce": 12345, "enforce_nonce": True}
    )
    assert status == 200 and a["nonce"] == 12345
    # An int and its string are one nonce.
    status, b = await raw(
        fake, "POST", path, {"content": "b", "nonce": "12345", "enforce_nonce": True}
    )
    assert status == 200 and b["id"] == a["id"] and b["content"] == "a"
    # Without enforce_nonce Discord does not deduplicate.
    status, c = await raw(fake, "POST", path, {"content": "c", "nonce": "12345"})
    assert status == 200 and c["id"] != a["id"]
    status, err = await raw(fake, "POST", path, {"content": "d", "nonce": "x" * 26})
    assert status == 400 and err["code"] == 50035 and "nonce" in err["errors"]
    status, err = await raw(fake, "POST", path, {"content": "e", "nonce": [1]})
    assert status == 400 and err["code"] == 50035
    assert [m.content for m in fake.channel_messages()] == ["a", "c"]


async def test_nonce_window_and_deleted_first_message(fake: FakeDiscord) -> None:
    path = f"/channels/{fake.channel_id}/messages"
    body = {"content": "once", "nonce": "job-9", "enforce_nonce": True}
    _, first = await raw(fake, "POST", path, body)
    key = (fake.channel_id, fake.app_id, "job-9")
    mid, created = fake.store.nonces[key]
    fake.store.nonces[key] = (mid, created - fake.nonce_window_s - 1)  # the window has passed
    _, late = await raw(fake, "POST", path, body)
    assert late["id"] != first["id"]
    status, _ = await raw(fake, "DELETE", f"{path}/{late['id']}")
    assert status == 204
    status, err = await raw(fake, "POST", path, body)  # Discord does not re-create it
    assert status == 404 and err["code"] == 10008
    assert [m.id for m in fake.channel_messages()] == [first["id"]]


# -- chaos -----------------------------------------------------------------------------------------


async def test_chaos_500_and_reset_before_the_handler(fake: FakeDiscord) -> None:
    path = f"/channels/{fake.channel_id}/messages"
    knob = fake.chaos(1.0, ["500"], paths=CHANNEL_POSTS, seed=1)
    status, body = await raw(fake, "POST", path, {"content": "x"})
    assert status == 500 and body == {"message": "500: fakediscord chaos", "code": 0}
    fake.chaos(1.0, ["reset"], paths=CHANNEL_POSTS)
    with pytest.raises(aiohttp.ClientOSError):
        await raw(fake, "POST", path, {"content": "y"})
    status, me = await raw(fake, "GET", "/users/@me")  # outside `paths`
    assert status == 200 and me["id"] == fake.app_id
    assert fake.chaos(None) is None
    status, _ = await raw(fake, "POST", path, {"content": "z"})
    assert status == 200
    assert [m.content for m in fake.channel_messages()] == ["z"]
    calls = fake.find("POST", CHANNEL_POSTS)
    assert [(c.status, c.note) for c in calls] == [
        (500, "chaos 500"),
        (0, "chaos reset"),
        (200, ""),
    ]
    assert knob is not None and knob.counts() == {"500": 1}


async def test_reset_after_create_then_retry_with_the_same_nonce(fake: FakeDiscord) -> None:
    """The exactly-once case: the message exists although the bot saw an error; the retry with
    the same nonce gets that message back instead of posting a second one."""
    bot = make_bot()
    async with run_bot(bot, fake):
        general = channel(bot, fake.channel_id)
        fake.chaos(1.0, ["reset"], paths=CHANNEL_POSTS, methods=["POST"], after=True)
        with pytest.raises(aiohttp.ClientOSError):
            await general.send("job 3 result", nonce="job-3:ch")
        assert len(fake.result_messages("job 3")) == 1  # it was created nonetheless
        fake.chaos(None)
        retried = await general.send("job 3 result", nonce="job-3:ch")
        # A 500 after the create: discord.py itself retries (after 1 s) with the same nonce.
        fake.chaos(1.0, ["500"], paths=CHANNEL_POSTS, after=True, limit=1)
        job4 = await general.send("job 4 result", nonce="job-4:ch")
    reset, again, failed, retry = fake.find("POST", CHANNEL_POSTS)
    assert failed.status == 500 and failed.response["code"] == 0
    assert failed.note == "chaos 500 after handling (the handler answered 200)"
    assert retry.status == 200 and retry.response["id"] == str(job4.id)
    assert [d.id for d in fake.result_messages("job 4")] == [str(job4.id)]
    assert (
        reset.status == 0 and reset.note == "chaos reset after handling (the handler answered 200)"
    )
    assert reset.response["id"] == str(retried.id)  # what the bot never got to see
    assert again.status == 200 and "duplicate" in again.note
    deliveries = fake.result_messages("job 3")
    assert [d.id for d in deliveries] == [str(retried.id)] and deliveries[0].where == "channel"


async def test_chaos_429_retried_or_raised(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        general = channel(bot, fake.channel_id)
        fake.chaos(1.0, ["429"], paths=CHANNEL_POSTS, limit=1, retry_after=0.01, is_global=True)
        await general.send("after one global 429")  # discord.py waits retry_after, retries
        fake.chaos(1.0, ["429"], paths=CHANNEL_POSTS, limit=1, cloudflare=True)
        with pytest.raises(discord.HTTPException) as info:
            await general.send("not retried")
        # Longer than the bot's max_ratelimit_timeout (discord.py: at least 30 s): raised.
        bot.http.max_ratelimit_timeout = 30.0
        fake.chaos(1.0, ["429"], paths=CHANNEL_POSTS, limit=1, retry_after=600)
        with pytest.raises(discord.RateLimited) as too_long:
            await general.send("not waited for")
    assert info.value.status == 429 and too_long.value.retry_after == 600
    limited, ok, banned, long_one = fake.find("POST", CHANNEL_POSTS)
    assert long_one.response["retry_after"] == 600
    assert limited.status == 429 and limited.response["global"] is True
    assert limited.response_headers["X-RateLimit-Global"] == "true"
    assert limited.response_headers["Via"] and "Via" not in banned.response_headers
    assert ok.status == 200 and banned.status == 429 and banned.note == "chaos 429"
    assert [m.content for m in fake.channel_messages()] == ["after one global 429"]


async def test_chaos_rate_is_seeded_and_spares_login(fake: FakeDiscord) -> None:
    def pattern(knob: Any) -> list[str]:
        return [f"{f.kind}:{c.path}" for f, c in knob.faults]

    runs = []
    for _ in range(2):
        knob = fake.chaos(0.5, ("500", "503"), seed=42, methods=["GET"])
        for _ in range(30):
            await raw(fake, "GET", f"/channels/{fake.channel_id}")
            await raw(fake, "GET", "/users/@me")  # login routes are spared by default
        runs.append(pattern(knob))
    assert runs[0] == runs[1]
    assert 5 < len(runs[0]) < 25  # about half of the 30
    assert all(p.endswith(f"/channels/{fake.channel_id}") for p in runs[0])
    assert all(c.ok for c in fake.find("GET", "/users/@me"))
    assert {c.status for c in fake.find("GET", r"/channels/\d+")} == {200, 500, 503}
    with pytest.raises(ValueError):
        fake.chaos(0.1, ["418"])


# -- counting deliveries ---------------------------------------------------------------------------


async def test_result_messages_count_each_message_once(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        iid = await fake.slash("later")
        await fake.wait_until(lambda: iid in bot.seen)
        hook = discord.Webhook.partial(int(fake.app_id), fake.interaction(iid).token, client=bot)
        for step in ("queued", "running 50%", "done: job J42"):
            await hook.edit_message("@original", content=step)  # type: ignore[arg-type]
        await hook.edit_message("@original", content="done: job J42 (re-edit)")  # type: ignore[arg-type]
        await hook.send("J42 follow-up", wait=True)
        await channel(bot, fake.channel_id).send(
            "result", file=discord.File(io.BytesIO(png()), "J42.png")
        )
        await channel(bot, fake.dm_channel(fake.bob)).send("your job J42 is ready")
        await channel(bot, fake.channel_id).send("job J420 is someone else's")
    fake.post_user_message("I am waiting for J42")  # not the bot's
    found = fake.result_messages(r"J42\b")
    assert [d.where for d in found] == ["original", "followup", "channel", "dm"]
    original = found[0]
    assert original.interaction_id == iid and found[1].interaction_id == iid
    assert original.edits == 4 and original.matched == [3, 4]
    assert [v["content"] for v in original.history][1:] == [
        "queued",
        "running 50%",
        "done: job J42",
    ]
    with_files = fake.result_messages(r"J42\b", has_files=True)
    assert [d.where for d in with_files] == ["channel"]
    assert with_files[0].message.file(0).startswith(b"\x89PNG")
    assert fake.result_messages("nobody") == []


async def test_chaos_and_results_over_the_control_endpoints() -> None:
    async with FakeDiscord(control=True) as fake, aiohttp.ClientSession() as http:
        base = fake.http_base + "/_fake"
        knob = {"rate": 1.0, "kinds": ["503"], "paths": CHANNEL_POSTS, "limit": 1}
        async with http.post(base + "/chaos", json=knob) as r:
            assert (await r.json()) == {"on": True}
        async with http.post(base + "/chaos", json={"rate": 0.5, "bogus": 1}) as r:
            assert r.status == 400
        path = f"/channels/{fake.channel_id}/messages"
        assert (await raw(fake, "POST", path, {"content": "J7 a"}))[0] == 503
        assert (await raw(fake, "POST", path, {"content": "J7 b"}))[0] == 200
        async with http.get(base + "/results", params={"marker": "J7"}) as r:
            found = await r.json()
        async with http.post(base + "/chaos", json={"rate": None}) as r:
            assert (await r.json()) == {"on": False}
    assert [(d["where"], d["content"]) for d in found] == [("channel", "J7 b")]


# -- the moment between taking effect and answering ------------------------------------------------


async def test_on_handled_runs_after_the_create_and_before_the_answer(fake: FakeDiscord) -> None:
    """What a bot killed inside the hook would leave behind: the message exists, and the call
    that created it has not been answered yet (so the bot cannot have recorded it)."""
    seen: list[tuple[int, str, bool, int]] = []

    def hook(call: RecordedCall) -> None:
        answered = any(c is call for c in fake.calls)
        seen.append((call.status, call.response["id"], answered, len(fake.channel_messages())))

    remove = fake.on_handled(hook)
    path = f"/channels/{fake.channel_id}/messages"
    _, first = await raw(
        fake, "POST", path, {"content": "J5", "nonce": "j5", "enforce_nonce": True}
    )
    remove()
    _, second = await raw(fake, "POST", path, {"content": "J6"})
    assert seen == [(200, first["id"], False, 1)]  # not called for the second, once removed
    assert second["id"] != first["id"]
    remove()  # removing twice is harmless
