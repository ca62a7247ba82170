"""The websocket gateway: HELLO, heartbeat ACK, IDENTIFY → READY + GUILD_CREATE, RESUME with
replay of missed dispatches, server-side RECONNECT (op 7) and disconnects."""

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


class GatewayHub:
    """All gateway connections of one fake; dispatches go to the newest identified session."""

    def __init__(self, fake: FakeDiscord, heartbeat_interval_ms: int) -> None:
        self.fake = fake
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, Session] = {}
        self.current: Session | None = None
        self.log: list[GatewayEvent] = []
        self.identifies = 0
        self.resumes = 0
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
                self._log("in", op, None, d)
                if op == 1:
                    await self._send(ws, {"op": 11})
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
        self.identifies += 1
        session = Session(id=f"fake-session-{self.identifies}")
        session.ws = ws
        self.sessions[session.id] = session
        guild_ids = list(fake.guilds)
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
        shard = d.get("shard")
        if shard:
            ready["shard"] = shard
        await self._dispatch_to(session, "READY", ready)
        for gid in guild_ids:
            await self._dispatch_to(session, "GUILD_CREATE", fake.guild_create_payload(gid))
        self.current = session
        fake._notify()
        return session

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
        self.current = session
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
                    await self._send(ws, frame)
            else:
                self._log("out", 0, t, d, queued=True)
            return session.seq

    async def wait_connected(self, timeout: float) -> Session:  # noqa: ASYNC109
        await self.fake.wait_until(
            lambda: self.connected, timeout=timeout, what="a bot on the gateway"
        )
        assert self.current is not None
        return self.current

    async def dispatch(self, t: str, d: Any, *, timeout: float = 10.0) -> int:  # noqa: ASYNC109
        """Send a dispatch event to the current session, waiting for a connected bot first."""
        session = await self.wait_connected(timeout)
        return await self._dispatch_to(session, t, d)

    async def reconnect(self) -> None:
        """Send op 7 RECONNECT: discord.py closes and RESUMEs at resume_gateway_url."""
        session = await self.wait_connected(5.0)
        assert session.ws is not None
        await self._send(session.ws, {"op": 7, "d": None})

    async def disconnect(self, code: int = 4000) -> None:
        """Drop the current websocket (close code 4000 is resumable)."""
        s = self.current
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

    async def _send(self, ws: web.WebSocketResponse, frame: dict[str, Any], log_it=True) -> None:
        await ws.send_str(json.dumps(frame))
        if log_it:
            self._log("out", frame["op"], frame.get("t"), frame.get("d"))

    def _log(self, direction: str, op: Any, t: str | None, d: Any, queued: bool = False) -> None:
        if direction == "in" and op == 2 and isinstance(d, dict):
            d = {**d, "token": "<redacted>"}  # never keep the bot token around
        if direction == "in" and op == 6 and isinstance(d, dict):
            d = {**d, "token": "<redacted>"}
        self.log.append(GatewayEvent("queued" if queued else direction, op, t, d))
        self.fake._notify()
