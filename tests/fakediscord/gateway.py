"""The websocket gateway: HELLO, heartbeat ACK, IDENTIFY → READY + GUILD_CREATE, RESUME with
replay of missed dispatches, server-side RECONNECT (op 7) and disconnects; sharded IDENTIFY
(`shard: [id, count]`): one session per shard, each told only of its own guilds."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .records import GatewayEvent

if TYPE_CHECKING:
    from .server import FakeDiscord

log = logging.getLogger("fakediscord.gateway")


@dataclass
class Session:
    """One gateway session; it outlives its websocket so that RESUME can replay."""

    id: str
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)  # dispatches sent, for replay
    ws: web.WebSocketResponse | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    resumes: int = 0
    shard: tuple[int, int] | None = None  # [shard_id, num_shards] from IDENTIFY, if any
    active: int = 0  # order of the last IDENTIFY/RESUME: the newest session gets dispatches

    @property
    def open(self) -> bool:
        return self.ws is not None and not self.ws.closed

    def covers(self, guild_id: str | int | None) -> bool:
        """Whether this session receives the guild's events (guild_id None: a DM → shard 0)."""
        if self.shard is None or self.shard[1] <= 1:
            return True
        return shard_of(guild_id, self.shard[1]) == self.shard[0]


def shard_of(guild_id: str | int | None, num_shards: int) -> int:
    """Discord's rule: `(guild_id >> 22) % num_shards`; DMs (no guild) belong to shard 0."""
    if guild_id is None or num_shards <= 1:
        return 0
    return (int(guild_id) >> 22) % num_shards


class GatewayHub:
    """All gateway connections of one fake. A dispatch for a guild goes to the newest
    identified (or resumed) session covering that guild's shard; unsharded sessions cover all,
    so without sharding that is simply the newest session (`current`)."""

    def __init__(self, fake: FakeDiscord, heartbeat_interval_ms: int) -> None:
        self.fake = fake
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, Session] = {}
        self.current: Session | None = None
        self.log: list[GatewayEvent] = []
        self.identifies = 0
        self.resumes = 0
        self._activity = 0
        self._sockets: set[web.WebSocketResponse] = set()

    @property
    def connected(self) -> bool:
        """True when a session is identified and its websocket is open."""
        s = self.current
        return s is not None and s.ws is not None and not s.ws.closed

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        self._sockets.add(ws)
        session: Session | None = None
        try:
            await self._send(
                ws, {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
            )
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue  # discord.py sends text JSON; binary (ETF) is not supported
                try:
                    frame = json.loads(msg.data)
                except ValueError:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                op, d = frame.get("op"), frame.get("d")
                self._log("in", op, None, d, session=session)
                if op == 1:
                    await self._send(ws, {"op": 11}, session=session)
                elif op == 2:
                    session = await self._identify(ws, d or {})
                elif op == 6:
                    session = await self._resume(ws, d or {})
        finally:
            self._sockets.discard(ws)
            if session is not None and session.ws is ws:
                session.ws = None
            self.fake._notify()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, d: dict[str, Any]) -> Session | None:
        fake = self.fake
        if fake.token is not None and d.get("token") != fake.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        shard = d.get("shard")
        if shard is not None and not _valid_shard(shard):
            await ws.close(code=4010, message=b"Invalid shard.")
            return None
        self.identifies += 1
        session = Session(id=f"fake-session-{self.identifies}")
        session.ws = ws
        if shard is not None:
            session.shard = (int(shard[0]), int(shard[1]))
        self.sessions[session.id] = session
        guild_ids = [g for g in fake.guilds if session.covers(g) and fake.bot_in_guild(g)]
        ready = {
            "v": 10,
            "user": {**fake.bot_user, "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": gid, "unavailable": True} for gid in guild_ids],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": fake.gateway_url,
            "application": {"id": fake.app_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "_trace": ["fakediscord"],
        }
        if shard:
            ready["shard"] = shard
        await self._dispatch_to(session, "READY", ready)
        for gid in guild_ids:
            await self._dispatch_to(session, "GUILD_CREATE", fake.guild_create_payload(gid))
        self._activate(session)
        fake._notify()
        return session

    def _activate(self, session: Session) -> None:
        self._activity += 1
        session.active = self._activity
        self.current = session

    async def _resume(self, ws: web.WebSocketResponse, d: dict[str, Any]) -> Session | None:
        session = self.sessions.get(str(d.get("session_id")))
        if session is None or (self.fake.token is not None and d.get("token") != self.fake.token):
            await self._send(ws, {"op": 9, "d": False})
            return None
        self.resumes += 1
        session.resumes += 1
        old = session.ws
        session.ws = ws
        if old is not None and old is not ws and not old.closed:
            await old.close(code=4000)
        client_seq = int(d.get("seq") or 0)
        async with session.lock:
            for frame in session.events:
                if frame["s"] > client_seq:
                    await self._send(ws, frame, log_it=False)
        await self._dispatch_to(session, "RESUMED", {"_trace": ["fakediscord"]})
        self._activate(session)
        self.fake._notify()
        return session

    async def _dispatch_to(self, session: Session, t: str, d: Any) -> int:
        async with session.lock:
            session.seq += 1
            frame = {"op": 0, "t": t, "s": session.seq, "d": d}
            session.events.append(frame)
            del session.events[:-1000]  # replay window
            ws = session.ws
            if ws is not None and not ws.closed:
                # On failure the frame stays in session.events; a RESUME replays it.
                with contextlib.suppress(ConnectionError):
                    await self._send(ws, frame, session=session)
            else:
                self._log("out", 0, t, d, queued=True, session=session)
            return session.seq

    def route(self, guild_id: str | int | None = None) -> Session | None:
        """The session that gets the guild's dispatches (None: a DM, shard 0): the newest
        identified or resumed one covering it, connected or not."""
        candidates = list(self.sessions.values())
        if self.current is not None and self.current not in candidates:
            candidates.append(self.current)
        covering = [s for s in candidates if s.covers(guild_id)]
        return max(covering, key=lambda s: s.active, default=None)

    def shard_session(self, shard_id: int) -> Session | None:
        """The newest session that identified with `shard: [shard_id, N]` (any N)."""
        mine = [s for s in self.sessions.values() if s.shard and s.shard[0] == shard_id]
        return max(mine, key=lambda s: s.active, default=None)

    async def wait_routed(self, guild_id: str | int | None, timeout: float) -> Session:  # noqa: ASYNC109
        """Wait until the session for this guild (None: DMs) is connected; return it."""

        def ready() -> Session | None:
            s = self.route(guild_id)
            return s if s is not None and s.open else None

        where = f"guild {guild_id}" if guild_id else "DMs"
        return await self.fake.wait_until(
            ready, timeout=timeout, what=f"a bot on the gateway for {where}"
        )

    async def wait_connected(self, timeout: float) -> Session:  # noqa: ASYNC109
        await self.fake.wait_until(
            lambda: self.connected, timeout=timeout, what="a bot on the gateway"
        )
        assert self.current is not None
        return self.current

    async def dispatch(self, t: str, d: Any, *, timeout: float = 10.0) -> int:  # noqa: ASYNC109
        """Send a dispatch event to the session of its guild (`d["guild_id"]`; none: shard 0),
        waiting for that session to be connected first. Without sharding: the current one.
        An INTERACTION_CREATE notes the session and shard on its FakeInteraction."""
        gid = d.get("guild_id") if isinstance(d, dict) else None
        session = await self.wait_routed(gid, timeout)
        if t == "INTERACTION_CREATE" and isinstance(d, dict):
            inter = self.fake.interactions.get(str(d.get("id")))
            if inter is not None:
                inter.session_id, inter.shard = session.id, session.shard
        return await self._dispatch_to(session, t, d)

    def _target(self, shard: int | None) -> Session | None:
        return self.current if shard is None else self.shard_session(shard)

    async def reconnect(self, shard: int | None = None) -> None:
        """Send op 7 RECONNECT (to that shard's session): discord.py closes and RESUMEs."""
        if shard is None:
            session = await self.wait_connected(5.0)
        else:
            session = await self.fake.wait_until(
                lambda: (s := self.shard_session(shard)) and s.open and s, timeout=5.0
            )
        assert session.ws is not None
        await self._send(session.ws, {"op": 7, "d": None}, session=session)

    async def disconnect(self, code: int = 4000, shard: int | None = None) -> None:
        """Drop the current websocket, or that shard's (close code 4000 is resumable)."""
        s = self._target(shard)
        if s is not None and s.ws is not None:
            ws, s.ws = s.ws, None
            await ws.close(code=code, message=b"fakediscord disconnect")
        self.fake._notify()

    async def invalidate(self) -> None:
        """Forget all sessions: the next RESUME gets op 9 and the client re-IDENTIFYs."""
        self.sessions.clear()
        await self.disconnect()

    async def close_all(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"fakediscord stopping")

    async def _send(
        self,
        ws: web.WebSocketResponse,
        frame: dict[str, Any],
        log_it: bool = True,
        session: Session | None = None,
    ) -> None:
        await ws.send_str(json.dumps(frame))
        if log_it:
            self._log("out", frame["op"], frame.get("t"), frame.get("d"), session=session)

    def _log(
        self,
        direction: str,
        op: Any,
        t: str | None,
        d: Any,
        queued: bool = False,
        session: Session | None = None,
    ) -> None:
        if direction == "in" and op == 2 and isinstance(d, dict):
            d = {**d, "token": "<redacted>"}  # never keep the bot token around
        if direction == "in" and op == 6 and isinstance(d, dict):
            d = {**d, "token": "<redacted>"}
        sid, shard = (session.id, session.shard) if session is not None else (None, None)
        self.log.append(GatewayEvent("queued" if queued else direction, op, t, d, session=sid,
                                     shard=shard))  # fmt: skip
        self.fake._notify()


def _valid_shard(shard: Any) -> bool:
    """`[shard_id, num_shards]` with 0 <= shard_id < num_shards."""
    if not isinstance(shard, list | tuple) or len(shard) != 2:
        return False
    sid, count = shard
    ok_types = all(isinstance(x, int) and not isinstance(x, bool) for x in (sid, count))
    return ok_types and 0 <= sid < count
