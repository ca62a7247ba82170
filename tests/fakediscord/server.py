"""`FakeDiscord`: the aiohttp server, its world (users, guild, channels) and realism knobs."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from . import rest
from .events import InteractionsMixin
from .faults import Faults
from .gateway import GatewayHub, shard_of
from .installs import add_group_dm, bot_in_guild
from .knobs import KnobsMixin
from .messages import MessageStore
from .payloads import (
    DEFAULT_PERMISSIONS,
    MANAGE_GUILD,
    Snowflakes,
    guild_payload,
    member_payload,
    text_channel_payload,
    user_payload,
)
from .plumbing import API_PREFIX, endpoint, serve_cdn
from .records import Delivery, RecordedCall, StoredMessage, payload_text
from .waiting import FakeDiscordError, Waiting

__all__ = ["DEFAULT_TOKEN", "FakeDiscord", "FakeDiscordError"]
DEFAULT_TOKEN = "fake-bot-token"


class FakeDiscord(InteractionsMixin, KnobsMixin, Waiting):
    """A Discord REST API v10 + gateway on 127.0.0.1 for the real discord.py client.

    See the package docstring (`tests.fakediscord`) for the full API and examples.
    """

    def __init__(
        self,
        *,
        token: str | None = DEFAULT_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        token_ttl_s: float = 15 * 60,
        ack_deadline_s: float | None = 3.0,
        attachment_size_limit: int = 10 * 1024 * 1024,
        heartbeat_interval_ms: int = 41250,
        bot_name: str = "nst-bot",
        control: bool = False,
        shard_count: int = 1,
        max_concurrency: int = 1,
        nonce_window_s: float = 300.0,
    ) -> None:
        self.token = token
        self.shard_count = shard_count  # GET /gateway/bot `shards`; add_guild(shard=k) uses it
        self.max_concurrency = max_concurrency  # session_start_limit.max_concurrency
        self.nonce_window_s = nonce_window_s  # enforce_nonce dedup window (Discord: minutes)
        self.control = control  # serve the /_fake/ control endpoints (see control.py)
        self.host, self.port = host, port
        self.token_ttl_s = token_ttl_s
        self.ack_deadline_s = ack_deadline_s
        self.attachment_size_limit = attachment_size_limit
        self.ids = Snowflakes()
        self.app_id = self.ids.next()
        self.bot_user = user_payload(self.app_id, bot_name, bot=True)
        self.users: dict[str, dict[str, Any]] = {self.app_id: self.bot_user}
        self._by_name: dict[str, str] = {}
        self.admins: set[str] = set()
        self.guilds: dict[str, dict[str, Any]] = {}  # id -> {"name", "channels": [ids]}
        self.channels: dict[str, dict[str, Any]] = {}
        self.dm_channels: dict[str, str] = {}  # user id -> DM channel id
        self.forbidden_channels: dict[str, int] = {}  # channel id -> error code
        self.closed_dms: set[str] = set()
        self.commands: dict[str, dict[str, Any]] = {}  # global, by name
        self.guild_commands: dict[str, dict[str, dict[str, Any]]] = {}
        self.calls: list[RecordedCall] = []
        self.unknown_calls: list[RecordedCall] = []
        self.faults = Faults()
        self.handled_hooks: list[Callable[[RecordedCall], None]] = []  # see on_handled
        self.gateway = GatewayHub(self, heartbeat_interval_ms)
        self.store = MessageStore(self.ids, "http://unstarted", attachment_size_limit)
        self._background: set[asyncio.Future[Any]] = set()
        self._runner: web.AppRunner | None = None
        InteractionsMixin.__init__(self)
        Waiting.__init__(self)

        self.owner = self.add_user("owner")
        self.guild_id = self.add_guild("Fake Guild", owner_id=self.owner["id"])
        self.channel_id = self.guilds[self.guild_id]["channels"][0]
        self.alice = self.add_user("alice")
        self.bob = self.add_user("bob")

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> FakeDiscord:
        self._changed = asyncio.Event()
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/cdn/attachments/{id}/{filename}", self._cdn)
        app.router.add_get("/cdn/attachments/{id}", self._cdn)
        for method, path, handler in rest.routes(self):
            app.router.add_route(method, API_PREFIX + path, endpoint(self, handler, path))
        if self.control:
            from .control import add_control_routes

            add_control_routes(app, self)
        app.router.add_route("*", "/{tail:.*}", endpoint(self, None, ""))
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.store.http_base = self.http_base
        return self

    async def stop(self) -> None:
        for fut in self._watched:
            fut.cancel()
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def http_base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The REST base for discord.py's `Route.BASE` / DISCORD_API_BASE."""
        return self.http_base + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """The websocket URL for `DiscordWebSocket.DEFAULT_GATEWAY` / DISCORD_GATEWAY_URL."""
        return f"ws://{self.host}:{self.port}/gateway"

    def env(self) -> dict[str, str]:
        """Environment for a bot in another process (`nst-bot run`)."""
        env = {"DISCORD_API_BASE": self.base_url, "DISCORD_GATEWAY_URL": self.gateway_url}
        if self.token:
            env["DISCORD_TOKEN"] = self.token
        return env

    # -- the world ---------------------------------------------------------------------------
    def add_user(self, name: str, *, admin: bool = False) -> dict[str, Any]:
        """Create a guild member named `name` (admin → Manage Server); returns the user payload."""
        if name in self._by_name:
            return self.users[self._by_name[name]]
        user = user_payload(self.ids.next(), name)
        self.users[user["id"]] = user
        self._by_name[name] = user["id"]
        if admin:
            self.admins.add(user["id"])
        return user

    def user(self, who: str | dict[str, Any] | int | None) -> dict[str, Any]:
        """Resolve a user given as name, id, or payload (None → alice)."""
        if who is None:
            return self.alice
        if isinstance(who, dict):
            return self.users.setdefault(str(who["id"]), who)
        key = str(who)
        if key in self.users:
            return self.users[key]
        return self.add_user(key)

    def permissions_of(self, user_id: str) -> int:
        if user_id in self.admins or user_id == self.owner["id"]:
            return DEFAULT_PERMISSIONS | MANAGE_GUILD
        return DEFAULT_PERMISSIONS

    def add_guild(
        self,
        name: str,
        *,
        owner_id: str | None = None,
        shard: int | None = None,
        bot_member: bool = True,
    ) -> str:
        """A guild with one text channel "general"; announced to a connected bot (to the
        session of its shard). `shard=k`: its id lands on shard k of `shard_count`.
        `bot_member=False`: a server without the bot (never announced; its channels answer
        the bot 403 Missing Access), reachable only through a user install (`installs.py`)."""
        if shard is not None:
            if not 0 <= shard < self.shard_count:
                raise ValueError(f"shard {shard} is not below shard_count={self.shard_count}")
            gid = self.ids.next_on_shard(shard, self.shard_count)
        else:
            gid = self.ids.next()
        self.guilds[gid] = {
            "name": name,
            "owner_id": owner_id or self.owner["id"],
            "channels": [],
            "bot": bot_member,
        }
        self.add_channel("general", guild_id=gid)
        session = self.gateway.route(gid)
        if bot_member and session is not None and session.open:
            task = asyncio.ensure_future(
                self.gateway._dispatch_to(session, "GUILD_CREATE", self.guild_create_payload(gid))
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return gid

    def shard_of(self, guild_id: str | int | None, num_shards: int | None = None) -> int:
        """Discord's rule `(guild_id >> 22) % num_shards` (default `shard_count`); None (a DM)
        → shard 0."""
        return shard_of(guild_id, self.shard_count if num_shards is None else num_shards)

    def add_channel(self, name: str, *, guild_id: str | None = None) -> str:
        gid = guild_id or self.guild_id
        cid = self.ids.next()
        position = len(self.guilds[gid]["channels"])
        self.channels[cid] = text_channel_payload(cid, gid, name, position)
        self.guilds[gid]["channels"].append(cid)
        return cid

    def guild_create_payload(self, gid: str) -> dict[str, Any]:
        g = self.guilds[gid]
        members = [member_payload(u) for u in self.users.values()]
        chans = [self.channels[c] for c in g["channels"]]
        return guild_payload(gid, g["name"], g["owner_id"], chans, members)

    def add_group_dm(self, *users: str | dict[str, Any]) -> str:
        """A group DM of `users` (default alice and bob) without the bot; returns its id."""
        return add_group_dm(self, *users)

    def bot_in_guild(self, guild_id: str | None) -> bool:
        """Whether the bot is a member of that guild (None, a DM: True)."""
        return bot_in_guild(self, guild_id)

    def forbid_channel(self, channel_id: str, code: int = 50001) -> None:
        """Refuse the bot's messages there: 403 with 50001 Missing Access or 50013."""
        self.forbidden_channels[str(channel_id)] = code

    def close_dms(self, user: str | dict[str, Any]) -> None:
        """The user accepts no DMs: sending answers 403, code 50007."""
        self.closed_dms.add(self.user(user)["id"])

    def dm_channel(self, user: str | dict[str, Any]) -> str:
        uid = self.user(user)["id"]
        if uid not in self.dm_channels:
            cid = self.ids.next()
            self.dm_channels[uid] = cid
            self.channels[cid] = {"id": cid, "type": 1, "recipients": [self.users[uid]]}
        return self.dm_channels[uid]

    def add_attachment(
        self,
        data: bytes,
        filename: str,
        content_type: str | None = None,
        declared_size: int | None = None,
        *,
        delay_s: float = 0.0,
        chunk_delay_s: float = 0.0,
        fail_status: int | None = None,
        send_length: bool = True,
        url: str | None = None,
    ) -> dict[str, Any]:
        """Serve bytes from the fake CDN; returns the attachment payload for `slash` options.

        `content_type` defaults to a guess from the filename and `declared_size` to the real
        size; both may lie. `delay_s`/`chunk_delay_s` slow the download, `fail_status` answers
        e.g. 404 instead, `send_length=False` omits Content-Length (chunked). `url` replaces
        the payload's url/proxy_url (a hostile payload pointing anywhere).
        """
        return self.store.register_file(
            data,
            filename,
            content_type,
            declared_size,
            url=url,
            delay_s=delay_s,
            chunk_delay_s=chunk_delay_s,
            fail_status=fail_status,
            send_length=send_length,
        )

    # -- reading the message store -----------------------------------------------------------
    @property
    def messages(self) -> dict[str, StoredMessage]:
        return self.store.messages

    def channel_messages(self, channel_id: str | None = None) -> list[StoredMessage]:
        """Live messages posted in a channel (default: general), oldest first."""
        cid = str(channel_id or self.channel_id)
        return [m for m in self.messages.values() if m.channel_id == cid and not m.deleted]

    def dm_messages(self, user: str | dict[str, Any]) -> list[StoredMessage]:
        uid = self.user(user)["id"]
        cid = self.dm_channels.get(uid)
        return self.channel_messages(cid) if cid else []

    def result_messages(
        self,
        marker: str | re.Pattern[str],
        *,
        has_files: bool = False,
        include_deleted: bool = True,
    ) -> list[Delivery]:
        """Every bot message (channel posts, DMs, interaction originals and followups), oldest
        first, any version of which carries `marker` (a regex, `re.search`) in its content,
        embeds or attachment filenames/descriptions; `has_files=True` counts only versions
        with attachments. One Delivery per message: re-edits of one original count once."""
        rx = re.compile(marker) if isinstance(marker, str) else marker
        owner: dict[str, tuple[str, str]] = {}
        for iid, inter in self.interactions.items():
            if inter.original_id:
                owner[inter.original_id] = ("original", iid)
            for mid in inter.followup_ids:
                owner[mid] = ("followup", iid)
        out: list[Delivery] = []
        for msg in self.messages.values():
            if msg.author_id != self.app_id or (msg.deleted and not include_deleted):
                continue
            matched = [
                i
                for i, version in enumerate(msg.versions)
                if (not has_files or version.get("attachments"))
                and rx.search(payload_text(version))
            ]
            if not matched:
                continue
            if msg.id in owner:
                where, iid = owner[msg.id]
            else:
                dm = self.channels.get(msg.channel_id, {}).get("type") == 1
                where, iid = ("dm" if dm else "channel"), msg.interaction_id
            out.append(Delivery(msg, where, iid, matched))
        return out

    # -- gateway controls --------------------------------------------------------------------
    async def wait_ready(self, timeout: float = 10.0, *, shard: int | None = None) -> None:  # noqa: ASYNC109
        """Wait until a bot has identified (or resumed) and its websocket is open. With
        `shard_count` > 1: until every shard (or just `shard`) has a connected session (an
        unsharded session covers them all)."""
        if self.shard_count <= 1 and shard is None:
            await self.gateway.wait_connected(timeout)
            return
        wanted = range(self.shard_count) if shard is None else [shard]

        def all_up() -> bool:
            return all(self._shard_up(k) for k in wanted)

        await self.wait_until(all_up, timeout, what=f"shards {list(wanted)} on the gateway")

    def _shard_up(self, k: int) -> bool:
        g = self.gateway
        cur = g.current
        if cur is not None and cur.open and (cur.shard is None or cur.shard[1] <= 1):
            return True
        s = g.shard_session(k)
        return s is not None and s.open

    async def disconnect(self, code: int = 4000, *, shard: int | None = None) -> None:
        """Drop the bot's websocket (that shard's); discord.py then RESUMEs (`gateway.resumes`)."""
        await self.gateway.disconnect(code, shard=shard)

    async def reconnect(self, *, shard: int | None = None) -> None:
        """Ask the bot (that shard's session) to reconnect (op 7)."""
        await self.gateway.reconnect(shard)

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        return await serve_cdn(self, request)
