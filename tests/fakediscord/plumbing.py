"""HTTP plumbing: one endpoint wrapper that parses each body once, records the call, applies
injected faults, rate limits and auth, and turns errors into Discord-shaped JSON (never 5xx);
plus the attachment CDN."""

from __future__ import annotations

import asyncio
import json
import logging
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
    `handler(request, call) -> Reply` (None: unknown route) and never answers 5xx."""

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
        call.route = f"{request.method} {template}" if handler else ""
        if reply is None:
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
        call.status, call.response = reply.status, reply.body
        call.response_headers = dict(reply.headers)
        fake.calls.append(call)
        if handler is None:
            fake.unknown_calls.append(call)
        fake._notify()
        return to_response(reply)

    return handle


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
