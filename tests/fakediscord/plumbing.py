"""HTTP plumbing: one endpoint wrapper that parses each body once, records the call, applies
injected faults, rate limits and auth, and turns errors into Discord-shaped JSON (never 5xx,
unless `fake.chaos` asks for it); plus the attachment CDN."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .faults import Reply
from .messages import ApiError
from .payloads import InvalidForm
from .records import RecordedCall, RecordedFile

if TYPE_CHECKING:
    from .server import FakeDiscord

log = logging.getLogger("fakediscord")
API_PREFIX = "/api/v10"


def endpoint(fake: FakeDiscord, handler: Any, template: str) -> Callable[[web.Request], Any]:
    """An aiohttp handler that parses and records the call, applies faults and auth, runs
    `handler(request, call) -> Reply` (None: unknown route) and never answers 5xx (except a
    5xx or connection reset that `fake.chaos` chose, before or after the handler ran)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            call = await read_call(request)
        except ValueError as err:  # e.g. broken JSON: Discord answers 400, code 50109
            call = RecordedCall(
                request.method, _relative(request.path), None, [], {}, time.monotonic()
            )
            call.note = f"unparsable body: {err}"
            reply: Reply | None = Reply(
                400, {"code": 50109, "message": "The request body contains invalid JSON."}
            )
            extra: dict[str, str] = {}
        else:
            reply, extra = fake.faults.check(call)
        fault = fake.faults.chaos_pick(call) if reply is None and handler else None
        early = fault is not None and not fault.after
        if early and fault.reply is not None:  # type: ignore[union-attr]
            reply = fault.reply  # type: ignore[union-attr]
        call.route = f"{request.method} {template}" if handler else ""
        if reply is None and not early:
            try:
                if handler is None:
                    call.note = "unknown route"
                    raise ApiError(
                        404,
                        0,
                        f"404: Not Found (fakediscord: no route for "
                        f"{request.method} {request.path})",
                    )
                if not _public(call.path):
                    call.authorized = _authorized(fake, request)
                    if not call.authorized:
                        raise ApiError(401, 0, "401: Unauthorized")
                reply = await handler(request, call)
                run_handled_hooks(fake, call, reply)
            except ApiError as err:
                call.note = call.note or err.body["message"]
                reply = Reply(err.status, err.body)
            except InvalidForm as err:
                call.note = str(err)
                reply = Reply(400, err.body())
            except Exception as err:  # never 5xx: discord.py would retry with sleeps
                log.exception("fakediscord handler failed")
                call.note = f"fake bug: {err!r}"
                reply = Reply(400, {"code": 0, "message": f"fakediscord error: {err!r}"})
                fake.fail(err)
            reply.headers.update({k: v for k, v in extra.items() if reply.status < 300})
        if fault is not None:
            ran = fault.after and reply is not None
            done = f" (the handler answered {reply.status})" if ran else ""  # type: ignore[union-attr]
            call.note = f"{fault.describe()}{done}" + (f"; {call.note}" if call.note else "")
            if fault.reply is not None:
                reply = fault.reply
            else:  # a reset: the client gets no answer at all
                call.status, call.response = 0, reply.body if reply is not None else None
                fake.calls.append(call)
                fake._notify()
                return reset_connection(request)
        assert reply is not None
        call.status, call.response = reply.status, reply.body
        call.response_headers = dict(reply.headers)
        fake.calls.append(call)
        if handler is None:
            fake.unknown_calls.append(call)
        fake._notify()
        return to_response(reply)

    return handle


def run_handled_hooks(fake: FakeDiscord, call: RecordedCall, reply: Reply) -> None:
    """Call `fake.on_handled` hooks once a handler has done its work (the message is created or
    edited) and before the answer leaves: what a process killed at that moment never learns."""
    call.status, call.response = reply.status, reply.body  # set again when the answer is sent
    for hook in list(fake.handled_hooks):
        hook(call)


def reset_connection(request: web.Request) -> web.Response:
    """Close the client's TCP connection with a RST and no answer: aiohttp raises
    ClientOSError (ECONNRESET), which discord.py does not retry on Linux."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return web.Response(status=500)  # never reaches the client


def _authorized(fake: FakeDiscord, request: web.Request) -> bool:
    if fake.token is None:
        return True
    return request.headers.get("Authorization") == f"Bot {fake.token}"


def _relative(path: str) -> str:
    return path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else path


def _public(path: str) -> bool:
    # Interaction callbacks and webhook routes are authorised by their token, not the bot's.
    return path.startswith(("/interactions/", "/webhooks/", "/gateway"))


async def read_call(request: web.Request) -> RecordedCall:
    """Parse the body once (JSON, or multipart payload_json + files[N]) into a RecordedCall."""
    rel = _relative(request.path)
    headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
    if "Authorization" in request.headers:
        headers["Authorization"] = "<redacted>"
    body: Any = None
    files: list[RecordedFile] = []
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            if part is None or not hasattr(part, "read"):
                continue
            name = part.name or ""
            data = await part.read(decode=True)  # type: ignore[union-attr]
            if name == "payload_json":
                body = json.loads(data)
            elif name.startswith("files[") or part.filename:
                idx_text = name[6:-1] if name.startswith("files[") else str(len(files))
                ctype = part.headers.get("Content-Type")
                idx = int(idx_text) if idx_text.isdigit() else len(files)
                files.append(RecordedFile(idx, part.filename or name, ctype, bytes(data)))
    elif request.can_read_body:
        raw = await request.read()
        if raw and request.content_type == "application/json":
            body = json.loads(raw)  # ValueError → 400, code 50109
        elif raw:
            body = raw.decode("utf-8", "replace")
    return RecordedCall(
        method=request.method,
        path=rel,
        json=body,
        files=files,
        headers=headers,
        time=time.monotonic(),
        query=dict(request.query),
    )


def to_response(reply: Reply) -> web.Response:
    if reply.body is None:
        return web.Response(status=reply.status, headers=reply.headers)
    headers = {**reply.headers, "Content-Type": "application/json"}  # exactly, no charset
    return web.Response(status=reply.status, body=json.dumps(reply.body).encode(), headers=headers)


async def serve_cdn(fake: FakeDiscord, request: web.Request) -> web.StreamResponse:
    """Serve a registered attachment, honouring its delay/slowness/failure knobs; recorded."""
    call = RecordedCall(
        method=request.method,
        path=request.path,
        json=None,
        files=[],
        headers=dict(request.headers),
        time=time.monotonic(),
        route="GET /cdn/attachments/{id}",
    )
    item = fake.store.cdn.get(request.match_info["id"])

    def done(status: int, note: str = "") -> None:
        call.status, call.note = status, note
        fake.calls.append(call)
        fake._notify()

    if item is None:
        done(404, "unknown attachment")
        return web.Response(status=404, text="Not Found")
    item.downloads += 1
    if item.delay_s:
        await asyncio.sleep(item.delay_s)
    if item.fail_status is not None:
        done(item.fail_status, "injected failure")
        return web.Response(status=item.fail_status, text="fakediscord: download refused")
    resp = web.StreamResponse(status=200)
    resp.content_type = item.content_type or "application/octet-stream"
    if item.send_length:
        resp.content_length = len(item.data)
    else:
        resp.enable_chunked_encoding()
    try:
        await resp.prepare(request)
        for start in range(0, len(item.data), item.chunk_size):
            await resp.write(item.data[start : start + item.chunk_size])
            if item.chunk_delay_s:
                await asyncio.sleep(item.chunk_delay_s)
        await resp.write_eof()
    except (ConnectionError, asyncio.CancelledError):
        done(200, "client went away mid-download")
        raise
    done(200)
    return resp
