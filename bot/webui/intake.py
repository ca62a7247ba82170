"""Reading the playground form: a streamed multipart body with the same byte caps and the same
checks (and error texts) as `/stylize` — `precheck` on what the browser declared, then
`decode_all` (Pillow) in a worker thread after the store has admitted the job."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import BodyPartReader, web

from bot.discord_bot.errors import InputRejected
from bot.discord_bot.validation import ACCEPTED_TYPES, precheck

FILE_FIELDS = {"content": "content", "style": "style"}  # form field → role in the messages
TEXT_FIELDS = ("csrf", "size", "preset", "strength", "preserve_colors", "style_name")
TEXT_CAP = 256  # bytes of any text field kept
CHUNK = 64 * 1024


@dataclass
class Upload:
    """One uploaded file, shaped like a Discord attachment for `precheck` (no URL; mutable,
    as the `AttachmentLike` protocol asks)."""

    filename: str
    size: int  # bytes sent (counted past the cap, so the message can say how large)
    content_type: str | None
    data: bytes = field(repr=False)
    url: str = ""


@dataclass
class Form:
    fields: dict[str, str]
    files: dict[str, Upload]


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


async def read_form(request: web.Request, *, max_bytes: int) -> Form:
    """Parse the form, keeping at most `max_bytes` of each file; raises `InputRejected` when the
    whole body is beyond what two capped images can be (then nothing more is read)."""
    hard_cap = 2 * max_bytes + 1_000_000
    if request.content_length is not None and request.content_length > hard_cap:
        raise InputRejected(
            f"The upload is {_mb(request.content_length)}; each image may be at most "
            f"{_mb(max_bytes)}. Please send smaller files.",
            code="too_large_bytes",
        )
    if not request.content_type.startswith("multipart/"):
        raise InputRejected("Please send the form with its two images.", code="bad_form")
    reader = await request.multipart()
    form = Form({}, {})
    seen = 0
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):  # a nested multipart: not from our form
            raise InputRejected("Please send the form with its two images.", code="bad_form")
        name = part.name or ""
        if name in FILE_FIELDS and part.filename is not None:
            data, size = await _read_capped(part, max_bytes, hard_cap - seen)
            seen += size
            if size or part.filename:
                form.files[name] = Upload(
                    part.filename, size, part.headers.get("Content-Type"), data
                )
        elif name in TEXT_FIELDS:
            data, size = await _read_capped(part, TEXT_CAP, TEXT_CAP * 4)
            seen += size
            form.fields[name] = data.decode("utf-8", errors="replace").strip()
        else:
            await part.release()
        if seen > hard_cap:
            raise InputRejected(
                f"The upload is too large; each image may be at most {_mb(max_bytes)}.",
                code="too_large_bytes",
            )
    return form


async def _read_capped(part: BodyPartReader, keep: int, count_to: int) -> tuple[bytes, int]:
    """Up to `keep` bytes of the part, and how many it had (counted up to `count_to`)."""
    buffer = bytearray()
    size = 0
    while True:
        chunk = await part.read_chunk(CHUNK)
        if not chunk:
            return bytes(buffer[:keep]), size
        size += len(chunk)
        if len(buffer) <= keep:
            buffer += chunk
        if size > count_to:
            return bytes(buffer[:keep]), size


def chosen(form: Form, name: str) -> bool:
    """Whether the form carries a file in field `name` (a browser sends an empty, nameless
    part for a file input left empty)."""
    upload = form.files.get(name)
    return upload is not None and not (upload.size == 0 and not upload.filename)


def checked_uploads(
    form: Form, *, max_bytes: int, skip: tuple[str, ...] = ()
) -> list[tuple[str, Upload]]:
    """(role, upload) for the content and the style (but the fields in `skip`), prechecked
    like Discord attachments."""
    out = []
    for name, role in FILE_FIELDS.items():
        if name in skip:
            continue
        upload = form.files.get(name)
        if upload is None or not chosen(form, name):
            other = " or a painting of the library" if name == "style" else ""
            raise InputRejected(
                f"Please choose a {role} image ({ACCEPTED_TYPES}){other}.", code="missing_image"
            )
        precheck(upload, role=role, max_bytes=max_bytes)
        out.append((role, upload))
    return out
