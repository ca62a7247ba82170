"""Optional HTTP control endpoints under /_fake/ so another process (a shell, a manual run)
can drive the fake: register attachments, run slash commands, click, expire tokens, read calls
and messages. Enabled by the CLI (`python -m tests.fakediscord`), not by FakeDiscord itself."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .server import FakeDiscord


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json"},
    )


def add_control_routes(app: web.Application, fake: FakeDiscord) -> None:
    """Register the /_fake/ endpoints on `app` (before the catch-all route)."""

    def option(value: Any) -> Any:
        if isinstance(value, dict) and "attachment" in value:
            return fake.store.attachments[str(value["attachment"])]
        if isinstance(value, dict) and "user" in value:
            return fake.user(value["user"])
        return value

    async def calls(request: web.Request) -> web.Response:
        return _json(
            [
                {
                    "method": c.method,
                    "path": c.path,
                    "status": c.status,
                    "json": c.json,
                    "files": [{"filename": f.filename, "size": f.size} for f in c.files],
                    "note": c.note,
                }
                for c in fake.calls
            ]
        )

    async def messages(request: web.Request) -> web.Response:
        return _json([m.payload for m in fake.messages.values() if not m.deleted])

    async def attachment(request: web.Request) -> web.Response:
        q = request.query
        declared = int(q["declared_size"]) if "declared_size" in q else None
        att = fake.add_attachment(
            await request.read(), q.get("filename", "file.bin"), q.get("content_type"), declared
        )
        return _json(att)

    async def slash(request: web.Request) -> web.Response:
        body = await request.json()
        opts = {k: option(v) for k, v in (body.get("options") or {}).items()}
        iid = await fake.slash(body["name"], opts, user=body.get("user"), dm=body.get("dm", False))
        return _json({"interaction_id": iid})

    async def click(request: web.Request) -> web.Response:
        body = await request.json()
        try:
            iid = await fake.click(
                str(body["message_id"]), body["custom_id"], user=body.get("user")
            )
        except ValueError as err:
            return _json({"error": str(err)}, 400)
        return _json({"interaction_id": iid})

    async def expire(request: web.Request) -> web.Response:
        body = await request.json()
        fake.expire_token(str(body.get("token") or body["interaction_id"]))
        return _json({"ok": True})

    async def disconnect(request: web.Request) -> web.Response:
        await fake.disconnect()
        return _json({"ok": True})

    async def chaos(request: web.Request) -> web.Response:
        body = await request.json()  # {"rate": 0.1, "kinds": [...], "seed": 1, ...}; rate null: off
        try:
            knob = fake.chaos(**body)
        except (TypeError, ValueError) as err:
            return _json({"error": str(err)}, 400)
        return _json({"on": knob is not None})

    async def results(request: web.Request) -> web.Response:
        found = fake.result_messages(
            request.query["marker"], has_files=request.query.get("has_files") == "1"
        )
        return _json(
            [
                {"id": d.id, "where": d.where, "channel_id": d.channel_id, "edits": d.edits,
                 "deleted": d.deleted, "content": d.message.content}
                for d in found
            ]
        )  # fmt: skip

    app.router.add_post("/_fake/chaos", chaos)
    app.router.add_get("/_fake/results", results)
    app.router.add_get("/_fake/calls", calls)
    app.router.add_get("/_fake/messages", messages)
    app.router.add_post("/_fake/attachments", attachment)
    app.router.add_post("/_fake/slash", slash)
    app.router.add_post("/_fake/click", click)
    app.router.add_post("/_fake/expire", expire)
    app.router.add_post("/_fake/disconnect", disconnect)
