"""The fake's message store and attachment CDN registry: creating and editing messages the way
Discord applies `payload_json` + `files[N]` multipart bodies."""

from __future__ import annotations

import io
import mimetypes
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .components_v2 import apply_layout, is_v2
from .payloads import InvalidForm, Snowflakes, check_message_body, iso_now, mentioned_ids
from .records import RecordedFile, StoredMessage


class ApiError(Exception):
    """An error answer: HTTP status plus Discord's JSON `{"code", "message"}` body."""

    def __init__(self, status: int, code: int, message: str, **extra: Any) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.body: dict[str, Any] = {"code": code, "message": message, **extra}


@dataclass
class CdnFile:
    """Bytes served at /cdn/attachments/{id}/{filename}, with knobs for hostile downloads."""

    id: str
    filename: str
    data: bytes
    content_type: str | None
    declared_size: int  # what the attachment payload claims; may differ from len(data)
    delay_s: float = 0.0  # wait before answering
    chunk_delay_s: float = 0.0  # wait between chunks (a slow download)
    chunk_size: int = 16 * 1024
    fail_status: int | None = None  # answer this status instead of the bytes (e.g. 404, 403)
    send_length: bool = True  # False: chunked transfer without Content-Length
    downloads: int = 0


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) for image bytes, as Discord reports for image attachments."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception:
        return None


def check_nonce(body: dict[str, Any]) -> str | None:
    """The dedup key of a create body's `nonce` (int or string of at most 25 characters), or
    None without one; a malformed nonce is 400, code 50035, as on Discord."""
    nonce = body.get("nonce")
    if nonce is None:
        return None
    if isinstance(nonce, bool) or not isinstance(nonce, int | str):
        raise InvalidForm({"nonce": "Must be an integer or a string."})
    if isinstance(nonce, str) and len(nonce) > 25:
        raise InvalidForm({"nonce": "Must be 25 or fewer in length."})
    return str(nonce)


class MessageStore:
    """Messages by id; every stored attachment is also served by the CDN."""

    def __init__(self, ids: Snowflakes, http_base: str, upload_limit: int) -> None:
        self.ids = ids
        self.http_base = http_base
        self.upload_limit = upload_limit
        self.messages: dict[str, StoredMessage] = {}
        # (channel id, author id, str(nonce)) -> (message id, monotonic time of the create)
        self.nonces: dict[tuple[str, str, str], tuple[str, float]] = {}
        self.cdn: dict[str, CdnFile] = {}
        self.attachments: dict[str, dict[str, Any]] = {}  # id -> payload, as first registered

    # -- attachments -------------------------------------------------------------------------
    def register_file(
        self,
        data: bytes,
        filename: str,
        content_type: str | None = None,
        declared_size: int | None = None,
        url: str | None = None,
        **knobs: Any,
    ) -> dict[str, Any]:
        """Serve `data` from the CDN and return its attachment payload (`url`: announce this
        URL instead of the CDN's)."""
        aid = self.ids.next()
        if content_type is None:
            content_type = mimetypes.guess_type(filename)[0]
        size = len(data) if declared_size is None else declared_size
        self.cdn[aid] = CdnFile(aid, filename, data, content_type, size, **knobs)
        # Real CDN URLs carry signed expiry parameters; bots must not build or parse them.
        expires = f"{int(aid) % 0xFFFFFFFF:x}"
        cdn_url = f"{self.http_base}/cdn/attachments/{aid}/{quote(filename)}"
        url = url or f"{cdn_url}?ex={expires}&is=0&hm=fake"
        att: dict[str, Any] = {
            "id": aid,
            "filename": filename,
            "size": size,
            "url": url,
            "proxy_url": url,
        }
        if content_type is not None:
            att["content_type"] = content_type
        dims = image_size(data)
        if dims:
            att["width"], att["height"] = dims
        self.attachments[aid] = att
        return att

    def _check_uploads(self, files: list[RecordedFile], limit: int | None = None) -> None:
        """At most 10 files, each within `limit` (an interaction's attachment_size_limit; None:
        the fake's), else 413 / 40005 as on Discord."""
        if len(files) > 10:
            raise ApiError(400, 50035, "Invalid Form Body: at most 10 files")
        for f in files:
            if f.size > (limit or self.upload_limit):
                raise ApiError(413, 40005, "Request entity too large")

    def _attachments(
        self, body: dict[str, Any], files: list[RecordedFile], existing: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
        """Apply Discord's rule: `attachments` lists kept ids and new `files[N]` by index."""
        new_bytes: dict[str, bytes] = {}
        by_index: dict[int, dict[str, Any]] = {}
        spec = body.get("attachments")
        meta = {}
        if spec is not None:
            for item in spec:
                meta[str(item.get("id"))] = item
        for f in files:
            m = meta.get(str(f.index), {})
            att = self.register_file(f.data, m.get("filename") or f.filename, f.content_type)
            if m.get("description"):
                att["description"] = m["description"]
            by_index[f.index] = att
            new_bytes[att["id"]] = f.data
        if spec is None:
            return [*existing, *by_index.values()], new_bytes
        result: list[dict[str, Any]] = []
        old = {a["id"]: a for a in existing}
        for item in spec:
            key = str(item.get("id"))
            if key in old:
                result.append(old[key])
            elif key.isdigit() and int(key) in by_index:
                result.append(by_index[int(key)])
            else:
                raise InvalidForm({"attachments": f"Unknown attachment id {key}"})
        return result, new_bytes

    # -- messages ----------------------------------------------------------------------------
    def create(
        self,
        channel_id: str,
        author: dict[str, Any],
        body: dict[str, Any],
        files: list[RecordedFile],
        *,
        guild_id: str | None = None,
        webhook_id: str | None = None,
        application_id: str | None = None,
        interaction_id: str | None = None,
        extra_flags: int = 0,
        allow_empty: bool = False,
        users: dict[str, dict[str, Any]] | None = None,
        upload_limit: int | None = None,
    ) -> StoredMessage:
        """Create and store a message from a bot's JSON/multipart body."""
        check_message_body(body)
        self._check_uploads(files, upload_limit)
        attachments, blobs = self._attachments(body, files, [])
        if not allow_empty and not (
            body.get("content")
            or body.get("embeds")
            or attachments
            or body.get("components")
            or body.get("sticker_ids")
            or body.get("poll")
        ):
            raise ApiError(400, 50006, "Cannot send an empty message")
        content = body.get("content") or ""
        payload: dict[str, Any] = {
            "id": self.ids.next(),
            "channel_id": channel_id,
            "type": 0 if interaction_id is None else 20,
            "content": content,
            "author": author,
            "attachments": attachments,
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "mentions": [users[u] for u in mentioned_ids(content) if users and u in users],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": bool(body.get("tts")),
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "flags": int(body.get("flags") or 0) | extra_flags,
        }
        if guild_id:
            payload["guild_id"] = guild_id
        if webhook_id:
            payload["webhook_id"] = webhook_id
        if application_id:
            payload["application_id"] = application_id
        if body.get("message_reference"):
            payload["message_reference"] = body["message_reference"]
        if body.get("nonce") is not None:
            payload["nonce"] = body["nonce"]
        apply_layout(payload)  # Components V2 rules (components_v2.py)
        msg = StoredMessage(
            payload=payload, files=blobs, interaction_id=interaction_id, nonce=body.get("nonce")
        )
        self.messages[payload["id"]] = msg
        return msg

    def edit(
        self,
        msg: StoredMessage,
        body: dict[str, Any],
        files: list[RecordedFile],
        *,
        users: dict[str, dict[str, Any]] | None = None,
        clear_flags: int = 0,
        upload_limit: int | None = None,
    ) -> StoredMessage:
        """Apply a PATCH: only the fields present change; `attachments` replaces the set."""
        check_message_body({k: v for k, v in body.items() if v is not None})
        self._check_uploads(files, upload_limit)
        attachments, blobs = self._attachments(body, files, msg.attachments)
        new = dict(msg.payload)
        for key in ("content", "embeds", "components"):
            if key in body:
                new[key] = body[key] if body[key] is not None else ("" if key == "content" else [])
        if "content" in body:
            content = new["content"] or ""
            new["mentions"] = [users[u] for u in mentioned_ids(content) if users and u in users]
        flags = int(new.get("flags") or 0) & ~clear_flags
        if body.get("flags") is not None:
            # Only SUPPRESS_EMBEDS / IS_COMPONENTS_V2 may change on edit; ephemeral sticks.
            flags = (flags & (1 << 6)) | int(body["flags"]) & ~(1 << 6)
        new["flags"] = flags
        new["attachments"] = attachments
        apply_layout(new, was_v2=is_v2(msg.payload))  # and the V2 flag can't be taken off
        new["edited_timestamp"] = iso_now()
        msg.history.append(msg.payload)
        msg.payload = new
        kept = {a["id"] for a in attachments}
        msg.files = {k: v for k, v in {**msg.files, **blobs}.items() if k in kept}
        return msg

    def get(self, message_id: str, channel_id: str | None = None) -> StoredMessage:
        """A live message; with `channel_id` (channel routes) ephemeral ones are invisible."""
        msg = self.messages.get(message_id)
        if msg is None or msg.deleted:
            raise ApiError(404, 10008, "Unknown Message")
        if channel_id is not None and (msg.channel_id != channel_id or msg.ephemeral):
            raise ApiError(404, 10008, "Unknown Message")
        return msg
