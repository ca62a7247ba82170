"""fakediscord — a protocol-level fake Discord for tests (issue 5).

An aiohttp server on 127.0.0.1 (port 0) speaking Discord's REST API v10 and the websocket
gateway well enough for the real, unmodified discord.py 2.7 client (`commands.Bot` with app
commands) to log in, sync commands, receive INTERACTION_CREATE and answer it over real HTTP.
Every HTTP call is recorded; messages are stored so tests can read what users would see.
Protocol facts: ../shared/docs/fake-discord-protocol.md.

Quick start (bot in the test process)
-------------------------------------
    from tests.fakediscord import FakeDiscord, redirect_discord_py, run_bot

    async def test_stylize(fixture_images):
        async with FakeDiscord() as fake:
            with redirect_discord_py(fake):
                bot = make_bot()           # commands.Bot(..., guild_ready_timeout=0.05)
                async with run_bot(bot, fake):
                    await bot.tree.sync()
                    att = fake.add_attachment(png_bytes, "cat.png")
                    iid = await fake.slash("stylize", {"content": att, "style": att2})
                    await fake.wait_until(lambda: (m := fake.original(iid)) and m.attachments)
                    assert fake.original(iid).file(0).startswith(b"\\x89PNG")

Or use the pytest fixture: `from tests.fakediscord.fixtures import fake_discord` in a
conftest.py gives a started fake with discord.py already redirected.

Bot in another process (`nst-bot run`): nothing depends on being in-process. Start the fake in
the test, pass `fake.env()` (DISCORD_API_BASE, DISCORD_GATEWAY_URL, DISCORD_TOKEN) to the child,
`fake.watch(proc)` (an asyncio subprocess) so waits fail at once if it dies (`fake.unwatch(proc)`
before stopping it on purpose), then `await fake.wait_ready()`; see test_bot_in_a_separate_process
and demo_bot.py. Manual runs: `python -m tests.fakediscord --print-urls` (+ /_fake/ control
endpoints, see __main__.py). sample_bot.py is a small bot written against the fake.
Bots should pass `guild_ready_timeout=0.05` (or each start waits 2 s for guilds).
The fake's clock is real: nothing here sleeps except where a knob asks for it.

FakeDiscord(*, token="fake-bot-token", port=0, token_ttl_s=900, ack_deadline_s=3.0,
             attachment_size_limit=10 MiB, heartbeat_interval_ms=41250)
    async context manager (or `await start()` / `await stop()`).
    .base_url        REST base ending in /api/v10 (for Route.BASE / DISCORD_API_BASE)
    .gateway_url     ws://127.0.0.1:PORT/gateway (for DEFAULT_GATEWAY / DISCORD_GATEWAY_URL)
    .http_base       http://127.0.0.1:PORT (CDN URLs live under /cdn/attachments/)
    .token           the bot token the fake accepts (None: any); never recorded anywhere
    .app_id, .bot_user, .owner (application owner → `bot.is_owner`), .alice, .bob (users)
    .guild_id, .channel_id ("general"), .guilds, .channels, .users
    .env()           {"DISCORD_API_BASE", "DISCORD_GATEWAY_URL", "DISCORD_TOKEN"}

World:
    .add_user(name, admin=False) -> user payload (admin → Manage Server in permissions)
    .user(name | id | payload | None) -> user payload (creates by name; None → alice)
    .add_channel(name, guild_id=None) -> channel id;  .add_guild(name) -> guild id
    .dm_channel(user) -> DM channel id
    .add_attachment(data, filename, content_type=None, declared_size=None, *, delay_s=0,
                    chunk_delay_s=0, fail_status=None, send_length=True) -> attachment payload
        served at /cdn/attachments/{id}/{filename}; `content_type` and `declared_size` may lie
        (test refusal-before-download: assert no CDN call with `call.is_cdn`).
    .post_user_message(content, attachments=[...], user=, channel=) -> StoredMessage

User actions (async; each waits for a connected bot, sends INTERACTION_CREATE over the gateway,
returns the interaction id as str):
    .slash(name, {option: value}, user=, channel=, guild=, dm=False)  "group sub" = subcommand;
        attachment payloads → type 11 + resolved.attachments; user payloads → type 6;
        channel payloads (fake.channels[cid]) → type 7 + resolved.channels;
        bool/int/float/str → 5/4/10/3; {"type": T, "value": V} passes through.
        `guild=gid` picks that guild's first channel; `dm=True` runs it in the user's DM.
    .context_menu(name, message, user=)     message command (type 3): target_id + resolved
    .user_menu(name, target, user=)         user command (type 2)
    .click(message, custom_id, user=, values=None)   button/select on a stored message
        (ValueError if the message has no such enabled component)
    .submit_modal(opened_by_interaction_id, {custom_id: value}, user=)
    .autocomplete(name, {option: typed}, focused="option", user=)  → interaction(iid).choices

Reading results:
    .calls: list[RecordedCall(method, path, json, files, headers, time, query, route, status,
            response, response_headers, note)]; path is relative to /api/v10 (CDN: "/cdn/...");
            `json` is the JSON body or the multipart payload_json; `files` are
            RecordedFile(index, filename, content_type, data); Authorization is redacted;
            .ok, .error_code (Discord's JSON code), .is_cdn; `note` says why an error answer.
    .unknown_calls   calls to routes the fake does not implement (answered JSON 404)
    .find(method=None, path=regex) -> [RecordedCall]
    .messages: {id: StoredMessage}; StoredMessage.payload/.content/.embeds/.components/
            .attachments/.file(i)/.custom_ids()/.text()/.edits/.history/.ephemeral/.loading
    .original(iid), .followups(iid), .interaction(iid) -> FakeInteraction (acked_type,
            acked_after_s, modal, choices), .channel_messages(cid=None), .dm_messages(user)
    .commands {name: cmd}, .guild_commands {gid: {name: cmd}}
    .gateway.log [GatewayEvent], .gateway.identifies, .gateway.resumes

Waiting (event driven; raise FakeDiscordError on timeout, listing recent calls):
    await .wait_for(predicate(call), timeout=5, since=0) -> RecordedCall
        (since=len(fake.calls) taken before acting: only new calls)
    await .wait_until(condition(), timeout=5, poll_s=0.05) -> the truthy value
        re-checked on every call/message/gateway frame and every poll_s (for bot or store
        state); the condition may be async; AttributeError/LookupError/TypeError = "not yet"
    await .wait_ready(timeout=10)
    .watch(task_or_asyncio_process) / .unwatch(...)  waits fail at once when it ends
    .fail(exc)                       waits fail at once (used by run_bot for ERROR logs)

Realism knobs:
    .expire_token(token_or_iid)   webhook calls answer 401 {"code": 50027, "message": "Invalid
        Webhook Token"} (also automatically after token_ttl_s). A callback later than
        ack_deadline_s (3 s, None = off) answers 404 code 10062; a second one 400 code 40060.
    .rate_limit(method, path_regex, limit=N, window_s=W, per_path=True, advertise=True)
        more than N calls per W s → 429 + retry_after + X-RateLimit-* + Via (discord.py
        retries). With advertise=True successes carry X-RateLimit headers and discord.py
        throttles itself (no 429s); advertise=False hides them so 429s really happen.
    .inject(method, path_regex, status, body=None, times=1)   one-off answers (429s get headers)
    .forbid_channel(cid, code=50001|50013)   403 on sending there (DM fallback tests)
    .close_dms(user)                  403 code 50007 on DMing them
    attachment_size_limit             sent in every interaction; a larger upload → 413, 40005
    Message bodies are checked against Discord's limits (content 2000, embeds, custom_id 100,
    ≤5 rows of ≤5 buttons) → 400 code 50035; empty messages → 400 code 50006. Never 5xx.
    .disconnect(code=4000)   drop the websocket (discord.py RESUMEs; missed events replay)
    .reconnect()             op 7;  .gateway.invalidate() forces a fresh IDENTIFY (discord.py
        waits 5 s before a non-initial IDENTIFY unless `before_identify_hook` is overridden)

Harness (tests/fakediscord/harness.py):
    redirect_discord_py(fake)   sets/restores discord.http.Route.BASE and
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY (process-wide: one fake at a time)
    async with run_bot(bot, fake, error_loggers=("discord",)) as bot:  starts and watches the
        bot task, waits until ready; ERROR logs on those loggers (e.g. "Ignoring exception in
        command") and errors escaping `bot.tree.on_error` fail every wait (error_loggers=()
        turns both off); closes the bot on exit.
    fixtures.fake_discord          pytest fixture: started fake + redirect_discord_py.
"""

from __future__ import annotations

from .events import FakeInteraction
from .harness import redirect_discord_py, run_bot
from .records import GatewayEvent, RecordedCall, RecordedFile, StoredMessage
from .server import FakeDiscord, FakeDiscordError

__all__ = [
    "FakeDiscord",
    "FakeDiscordError",
    "FakeInteraction",
    "GatewayEvent",
    "RecordedCall",
    "RecordedFile",
    "StoredMessage",
    "redirect_discord_py",
    "run_bot",
]
