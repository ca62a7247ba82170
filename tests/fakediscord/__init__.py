"""fakediscord — a protocol-level fake Discord for tests (issue 5).

An aiohttp server on 127.0.0.1 (port 0) speaking Discord's REST API v10 and the websocket
gateway well enough for the real, unmodified discord.py 2.7 client (`commands.Bot` with app
commands) to log in, sync commands, receive INTERACTION_CREATE and answer it over real HTTP.
Every HTTP call is recorded; messages are stored so tests can read what users would see.
Protocol facts (paths are relative to the repository): docs/fake-discord-protocol.md.

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
             attachment_size_limit=10 MiB, heartbeat_interval_ms=41250, shard_count=1,
             max_concurrency=1, nonce_window_s=300)
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
    .add_channel(name, guild_id=None) -> channel id
    .add_guild(name, shard=None, bot_member=True) -> guild id (`shard=k`: an id on shard k
        of shard_count; `bot_member=False`: a server without the bot, see User installs)
    .add_group_dm(*users) -> channel id of a group DM (type 3; the bot is not in it)
    .bot_in_guild(guild_id) -> bool
    .shard_of(guild_id, num_shards=shard_count) -> (guild_id >> 22) % num_shards; None (DM) → 0
    .dm_channel(user) -> DM channel id
    .add_attachment(data, filename, content_type=None, declared_size=None, *, delay_s=0,
                    chunk_delay_s=0, fail_status=None, send_length=True, url=None)
        -> attachment payload (`url` overrides the announced url/proxy_url)
        served at /cdn/attachments/{id}/{filename}; `content_type` and `declared_size` may lie
        (test refusal-before-download: assert no CDN call with `call.is_cdn`).
    .post_user_message(content, attachments=[...], user=, channel=) -> StoredMessage

User actions (async; each waits for a connected bot, sends INTERACTION_CREATE over the gateway,
returns the interaction id as str):
    .slash(name, {option: value}, user=, channel=, guild=, dm=False, user_install=None,
           attachment_size_limit=None)  "group sub" = subcommand;
        attachment payloads → type 11 + resolved.attachments; user payloads → type 6;
        channel payloads (fake.channels[cid]) → type 7 + resolved.channels;
        bool/int/float/str → 5/4/10/3; {"type": T, "value": V} passes through.
        `guild=gid` picks that guild's first channel; `dm=True` runs it in the user's DM;
        `channel=` a group DM runs it there (context 2). `attachment_size_limit=N`: this
        interaction announces N and its responses/follow-ups refuse larger files (413).
    .context_menu(name, message, user=)     message command (type 3): target_id + resolved
    .user_menu(name, target, user=)         user command (type 2)
    .click(message, custom_id, user=, values=None)   button/select on a stored message
        (ValueError if the message has no such enabled component)
    .submit_modal(opened_by_interaction_id, {custom_id: value}, user=)
    .press(custom_id, user=, channel=, guild=, dm=False)   a crafted button press: a bot message
        with only that button is stored where the user is, then clicked (buttons must check
        who acts, not who was shown them)
    .autocomplete(name, {option: typed}, focused="option", user=, channel=, guild=, dm=False)
        → interaction(iid).choices

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
            .flags/.gallery() (Components V2: [(description, bytes)] of media gallery items;
            .text() also holds text displays and gallery descriptions)
    .original(iid), .followups(iid), .interaction(iid) -> FakeInteraction (acked_type,
            acked_after_s, modal, choices), .channel_messages(cid=None), .dm_messages(user)
    .commands {name: cmd}, .guild_commands {gid: {name: cmd}}
    .gateway.log [GatewayEvent(direction, op, t, d, time, session, shard)],
            .gateway.identifies, .gateway.resumes, .gateway.sessions {id: Session(shard, ws)},
            .gateway.route(guild_id) / .shard_session(k) -> the session that gets it
    .result_messages(marker_regex, has_files=False, include_deleted=True) -> [Delivery]
        every bot message (channel posts, DMs, interaction originals and followups), oldest
        first, any version of which carries the marker (re.search) in content, embeds or
        attachment filenames/descriptions; one Delivery per message however often edited
        (a re-edit of the same original counts once): .message (StoredMessage: .versions,
        .history, .nonce, .created_at), .where ("channel"|"dm"|"original"|"followup"),
        .interaction_id, .matched (indexes into .message.versions), .deleted, .edits.
        `has_files=True`: only versions carrying attachments count (result posts).

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
    attachment_size_limit             sent in every interaction (unless `slash` names its own,
        enforced on that interaction's responses); a larger upload → 413, 40005
    Message bodies are checked against Discord's limits (content 2000, embeds, custom_id 100,
    ≤5 rows of ≤5 buttons) → 400 code 50035; empty messages → 400 code 50006. Never 5xx
    (unless `.chaos` asks for it, below).
    Components V2 (flag IS_COMPONENTS_V2 = 1 << 15, what discord.py's LayoutView sends;
    components_v2.py): types 9 section, 10 text display, 11 thumbnail, 12 media gallery,
    13 file, 14 separator, 17 container. Checked on the message as it will be (400, 50035):
    no content or embeds with the flag (an edit into a layout must clear them), V2 types only
    with it, allowed nesting, 1-10 gallery items, ≤ 40 components, ≤ 4000 characters of text,
    and every `attachment://name` names one of the message's attachments. The flag can be set
    by an edit, never cleared. Attachment media are stored resolved (CDN url, width, height,
    content_type, attachment_id), as Discord answers.
    .disconnect(code=4000, shard=None)   drop the websocket (that shard's; discord.py
        RESUMEs; missed events replay)
    .reconnect(shard=None)   op 7;  .gateway.invalidate() forces a fresh IDENTIFY (discord.py
        waits 5 s before a non-initial IDENTIFY unless `before_identify_hook` is overridden)

User installs (installs.py):
    Every interaction carries `context` (0 guild, 1 the bot's DM, 2 private channel) and
    `authorizing_integration_owners`: {"0": guild id} in a guild with the bot, {"1": user id}
    in the bot's DM, in a guild without the bot (`add_guild(..., bot_member=False)`) and in a
    group DM; `slash(..., user_install=True)` sends {"1": user id} in a guild with the bot too.
    A button press carries the owners of the interaction that made its message. Bot-token
    calls on a channel of a guild without the bot, or on a group DM (send, read, edit,
    typing; GET /guilds/{id} and its members) answer 403, code 50001 Missing Access, as on
    Discord; the interaction token still edits the original response. An interaction only a
    user install authorised takes at most 5 follow-ups, then 400, code 40094.

Nonces (POST /channels/{id}/messages, guild channels and DMs alike):
    `nonce` is an int or a string of ≤ 25 characters (else 400, code 50035) and is stored on
    the message (payload["nonce"], StoredMessage.nonce). With `enforce_nonce: true`, a second
    create in the same channel by the same author with the same nonce (int 5 == "5") within
    `fake.nonce_window_s` (300 s) answers 200 with the FIRST message and creates nothing
    (call.note "nonce ...: duplicate of message ID"); if that message was deleted: 404, 10008.
    Without enforce_nonce nothing is deduplicated; webhooks/followups take no nonce.
    discord.py 2.7's `Messageable.send(..., nonce=N)` (channel.send, user.send,
    PartialMessageable.send) always sends `nonce=str(N)` with `enforce_nonce: true`, and a
    random 64-bit nonce when none is given: a bot only passes a deterministic nonce.
    Dedup state: fake.store.nonces {(channel_id, author_id, str(nonce)): (message_id, t)}.

Sharding (FakeDiscord(shard_count=N)):
    GET /gateway/bot answers `shards: N`, the gateway url and session_start_limit (with
    `max_concurrency`). Each IDENTIFY with `shard: [k, n]` is its own session: READY carries
    the shard, GUILD_CREATE comes only for guilds with shard_of(gid, n) == k, and a dispatch
    for a guild (INTERACTION_CREATE, add_guild's GUILD_CREATE) goes to the newest session
    covering its shard; DMs go to shard 0; an unsharded session covers every guild (so with
    nobody sharding, everything goes to the newest session, as before). An invalid shard
    closes with 4010. A restarted shard re-IDENTIFYs and takes over its guilds.
    `fake.interaction(iid).session_id / .shard` say which session got an interaction.
    `await fake.wait_ready(shard=None)`: with shard_count > 1, until every shard (or `shard`)
    has a connected session. Several clients in one process work: `discord.Client(
    shard_id=k, shard_count=N)` per shard, or `AutoShardedClient()` (asks /gateway/bot) /
    `AutoShardedClient(shard_ids=[k], shard_count=N)`; override `before_identify_hook`.

Chaos (opt-in 5xx and resets, for exactly-once delivery tests):
    .chaos(rate=0.1, kinds=("429", "500", "reset"), *, seed=None, paths=None, methods=None,
           after=False, retry_after=0.05, is_global=False, cloudflare=False, limit=None)
        -> Chaos (.faults [(ChaosFault(kind, after), call)], .counts()); .chaos(None) = off.
        A share `rate` of matching REST calls (paths: regex, full match; default every route
        but login, /gateway(/bot) and command sync; methods: e.g. ["POST"]) gets a fault:
        "429" with retry_after + X-RateLimit-* + Via (discord.py sleeps and retries;
        is_global → global 429; cloudflare=True → no Via: discord.py raises HTTPException
        429 at once; retry_after above the client's max_ratelimit_timeout, which discord.py
        raises to at least 30 s → discord.RateLimited at once), a 5xx like "500" with a
        JSON body (discord.py retries 500/502/504 after 1, 3, 5, 7 s and raises
        DiscordServerError after 5 tries; "503" raises at once), or
        "reset": TCP RST without an answer (aiohttp.ClientOSError, errno ECONNRESET: an
        OSError, not a discord.HTTPException, and not retried by discord.py on Linux).
        after=True: 5xx and resets strike after the handler ran, so the message is created
        or edited although the bot sees an error. Injected faults are noted on the call
        (`call.note` "chaos 500", "chaos reset after handling (the handler answered 200)");
        a reset records status 0 and, after handling, the response the bot never got.
        Explicit `inject`s and rate limits are checked first. Control endpoint: POST
        /_fake/chaos {same keywords}; GET /_fake/results?marker=RX[&has_files=1].
    .on_handled(hook) -> remove()   `hook(call)` runs synchronously after each REST handler
        did its work (message created or edited; call.status/.response set) and before the
        answer is sent: kill a client there and it never learns its post succeeded.

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
from .faults import Chaos, ChaosFault
from .harness import redirect_discord_py, run_bot
from .records import Delivery, GatewayEvent, RecordedCall, RecordedFile, StoredMessage
from .server import FakeDiscord, FakeDiscordError

__all__ = [
    "Chaos",
    "ChaosFault",
    "Delivery",
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
