"""What the fake remembers: HTTP calls, uploaded files, stored messages, gateway frames."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .components_v2 import descriptions, texts
from .components_v2 import gallery as gallery_items


@dataclass(frozen=True)
class RecordedFile:
    """One file part of a multipart request (`files[N]`)."""

    index: int
    filename: str
    content_type: str | None
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:  # bytes would flood assertion output
        return (
            f"RecordedFile({self.index}, {self.filename!r}, {self.content_type!r}, {self.size} B)"
        )


@dataclass
class RecordedCall:
    """One HTTP request the client made, with the fake's answer.

    `path` is relative to the REST base (e.g. ``/interactions/1/tok/callback``) for API calls and
    absolute (``/cdn/attachments/...``) for CDN downloads. `json` is the JSON body, or the parsed
    `payload_json` of a multipart body; `files` are the multipart file parts, parsed once.
    The Authorization header is redacted (see `authorized`).
    """

    method: str
    path: str
    json: Any
    files: list[RecordedFile]
    headers: dict[str, str]
    time: float
    query: dict[str, str] = field(default_factory=dict)
    route: str = ""  # e.g. "PATCH /webhooks/{app}/{token}/messages/@original"; "" when unknown
    status: int = 0
    response: Any = None
    authorized: bool = False
    note: str = ""  # why the fake answered as it did (errors, special cases)
    response_headers: dict[str, str] = field(
        default_factory=dict
    )  # why the fake answered an error, when it did

    @property
    def is_cdn(self) -> bool:
        return self.path.startswith("/cdn/")

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error_code(self) -> int | None:
        """Discord's JSON error `code` of the answer, if it was an error."""
        if isinstance(self.response, dict) and not self.ok:
            return self.response.get("code")
        return None

    def __repr__(self) -> str:
        extra = f" files={[f.filename for f in self.files]}" if self.files else ""
        note = f" note={self.note!r}" if self.note else ""
        return f"<{self.method} {self.path} -> {self.status}{extra}{note}>"


@dataclass
class StoredMessage:
    """A message as the fake stores it; `payload` is exactly what a GET would return.

    Edits replace `payload` and push the previous version onto `history`.
    """

    payload: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)  # attachment id -> bytes
    history: list[dict[str, Any]] = field(default_factory=list)
    interaction_id: str | None = None
    deleted: bool = False
    nonce: str | int | None = None  # as the bot sent it on create (channel and DM posts)
    created_at: float = field(default_factory=time.monotonic)  # monotonic, like RecordedCall.time

    @property
    def versions(self) -> list[dict[str, Any]]:
        """Every version of the payload, oldest first (history, then the current one)."""
        return [*self.history, self.payload]

    @property
    def id(self) -> str:
        return self.payload["id"]

    @property
    def channel_id(self) -> str:
        return self.payload["channel_id"]

    @property
    def content(self) -> str:
        return self.payload.get("content") or ""

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return self.payload.get("embeds") or []

    @property
    def components(self) -> list[dict[str, Any]]:
        return self.payload.get("components") or []

    @property
    def attachments(self) -> list[dict[str, Any]]:
        return self.payload.get("attachments") or []

    @property
    def flags(self) -> int:
        return int(self.payload.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & 64)

    @property
    def loading(self) -> bool:
        """True while a deferred response still shows "thinking"."""
        return bool(self.flags & 128)

    @property
    def edits(self) -> int:
        return len(self.history)

    @property
    def author_id(self) -> str:
        return self.payload["author"]["id"]

    def file(self, index: int = 0) -> bytes:
        """Bytes of the message's `index`-th attachment."""
        return self.files[self.attachments[index]["id"]]

    def custom_ids(self) -> list[str]:
        """custom_ids of all components (buttons, selects), in order."""
        return [c["custom_id"] for c in iter_components(self.components) if "custom_id" in c]

    def component(self, custom_id: str) -> dict[str, Any] | None:
        return next(
            (c for c in iter_components(self.components) if c.get("custom_id") == custom_id), None
        )

    def text(self) -> str:
        """Content plus embed titles, descriptions, fields and footers, and the text displays
        and gallery descriptions of a Components V2 message: handy for `in` checks."""
        parts = [self.content, *texts(self.payload), *descriptions(self.payload)]
        for e in self.embeds:
            parts += [e.get("title") or "", e.get("description") or ""]
            for f in e.get("fields") or []:
                parts += [f.get("name") or "", f.get("value") or ""]
            parts.append((e.get("footer") or {}).get("text") or "")
        return "\n".join(p for p in parts if p)

    def gallery(self) -> list[tuple[str, bytes]]:
        """Components V2: (description, bytes) of every media gallery item that shows one of
        the message's attachments, in order."""
        return [(text, self.files[att["id"]]) for text, att in gallery_items(self.payload)]

    def __repr__(self) -> str:
        gone = " deleted" if self.deleted else ""
        return (
            f"<StoredMessage {self.id} ch={self.channel_id} content={self.content[:60]!r} "
            f"embeds={len(self.embeds)} files={[a['filename'] for a in self.attachments]} "
            f"ids={self.custom_ids()} edits={self.edits}{gone}>"
        )


def payload_text(payload: dict[str, Any]) -> str:
    """Everything a user reads in a message version: content, embed texts and image urls,
    attachment filenames and descriptions, text displays and media gallery descriptions (one
    per line)."""
    parts = [payload.get("content") or ""]
    for e in payload.get("embeds") or []:
        parts += [e.get("title") or "", e.get("description") or "", e.get("url") or ""]
        parts += [(e.get(k) or {}).get("url") or "" for k in ("image", "thumbnail")]
        parts += [(e.get("author") or {}).get("name") or ""]
        parts += [(e.get("footer") or {}).get("text") or ""]
        for f in e.get("fields") or []:
            parts += [f.get("name") or "", f.get("value") or ""]
    for a in payload.get("attachments") or []:
        parts += [a.get("filename") or "", a.get("description") or ""]
    parts += texts(payload) + descriptions(payload)  # Components V2
    return "\n".join(p for p in parts if p)


@dataclass
class Delivery:
    """A bot message carrying a marker (see `FakeDiscord.result_messages`): counted once
    however often it was edited."""

    message: StoredMessage
    where: str  # "channel", "dm", "original" (an interaction's @original) or "followup"
    interaction_id: str | None
    matched: list[int]  # indexes into message.versions whose text carries the marker

    @property
    def id(self) -> str:
        return self.message.id

    @property
    def channel_id(self) -> str:
        return self.message.channel_id

    @property
    def deleted(self) -> bool:
        return self.message.deleted

    @property
    def edits(self) -> int:
        return self.message.edits

    @property
    def history(self) -> list[dict[str, Any]]:
        """The versions before the current one, oldest first."""
        return self.message.history

    def __repr__(self) -> str:
        gone = " deleted" if self.deleted else ""
        return (
            f"<Delivery {self.where} {self.id} ch={self.channel_id} "
            f"versions={self.matched}/{len(self.message.versions)}{gone}>"
        )


def iter_components(components: list[dict[str, Any]]):
    """Walk nested components (action rows, containers, sections, labels) depth first."""
    for c in components:
        yield c
        yield from iter_components(c.get("components") or [])
        if isinstance(c.get("component"), dict):
            yield from iter_components([c["component"]])
        if isinstance(c.get("accessory"), dict):
            yield from iter_components([c["accessory"]])


@dataclass(frozen=True)
class GatewayEvent:
    """One gateway frame: direction "in" (client → fake) or "out" (fake → client)."""

    direction: str
    op: int
    t: str | None
    d: Any
    time: float = field(default_factory=time.monotonic)
    session: str | None = None  # the gateway session it belongs to, when known
    shard: tuple[int, int] | None = None  # that session's [shard_id, num_shards], if it shards

    def __repr__(self) -> str:
        where = f" shard={list(self.shard)}" if self.shard else ""
        return f"<gw {self.direction} op={self.op} t={self.t}{where}>"
