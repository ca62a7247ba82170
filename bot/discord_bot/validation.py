"""Attachment intake: declared-metadata checks, a capped download, and off-loop decoding.

Order matters: the declared content type, size and URL host are checked before a single byte
is downloaded, the download comes only from Discord's CDN (no redirects) and stops at the byte
cap, and decoding (Pillow) runs in a thread so a large or hostile image never blocks the loop.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Protocol

import aiohttp
import yarl
from PIL import Image

from bot.discord_bot.errors import InputRejected
from nst_engine.errors import ImageError
from nst_engine.images import encode_jpeg, encode_png, fit_within

ACCEPTED_TYPES = "PNG, JPEG, WebP, GIF, BMP or TIFF"
_UNSUPPORTED_TYPES = {
    "image/svg+xml": "SVG",
    "image/heic": "HEIC",
    "image/heif": "HEIC",
    "image/heic-sequence": "HEIC",
    "image/heif-sequence": "HEIC",
    "image/avif": "AVIF",
    "application/pdf": "PDF",
}
_UNSUPPORTED_EXTENSIONS = {
    ".svg": "SVG",
    ".svgz": "SVG",
    ".heic": "HEIC",
    ".heif": "HEIC",
    ".avif": "AVIF",
    ".pdf": "PDF",
}
# Inputs larger than this on the long side are stored downscaled: the engine never needs more.
STORE_MAX_SIDE = 2048
# Uploads kept byte for byte (format → stored `fmt`): the executor decodes these itself and
# applies the EXIF orientation at run time. MPO is a phone JPEG with extra frames appended.
KEPT_FORMATS = {"PNG": "png", "JPEG": "jpeg", "MPO": "jpeg", "WEBP": "webp"}
KEPT_MODES = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA"})
LOSSY_FORMATS = frozenset({"JPEG", "MPO", "WEBP"})
STORE_JPEG_QUALITY = 92
# Where attachments come from on Discord; anything else in a payload URL is refused.
DISCORD_CDN_HOSTS = ("cdn.discordapp.com", "media.discordapp.net")
Origin = tuple[str, str, int]  # (scheme, lower-case host, port)


class AttachmentLike(Protocol):
    filename: str
    size: int
    url: str
    content_type: str | None


@dataclass(frozen=True)
class ValidImage:
    """A decoded, validated input ready to be stored."""

    data: bytes  # bytes to store (the original upload unless it had to be normalised)
    fmt: str  # lower-case format of `data`: "png", "jpeg", "webp"
    width: int
    height: int
    filename: str


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


def precheck(att: AttachmentLike, *, role: str, max_bytes: int) -> None:
    """Refuse from the declared metadata alone (no download): size, type, extension."""
    name = att.filename or "the file"
    declared = (att.content_type or "").split(";")[0].strip().lower()
    ext = PurePosixPath(att.filename or "").suffix.lower()
    fmt = _UNSUPPORTED_TYPES.get(declared) or _UNSUPPORTED_EXTENSIONS.get(ext)
    if fmt:
        raise InputRejected(
            f"The {role} image `{name}` is {fmt}, which isn't supported. "
            f"Please send a {ACCEPTED_TYPES} image instead.",
            code="unsupported_format",
        )
    if declared and not declared.startswith("image/"):
        raise InputRejected(
            f"The {role} attachment `{name}` is not an image (it's `{declared}`). "
            f"Please send a {ACCEPTED_TYPES} image.",
            code="not_an_image",
        )
    if att.size == 0:
        raise InputRejected(f"The {role} image `{name}` is empty (0 bytes).", code="empty")
    if att.size > max_bytes:
        raise InputRejected(
            f"The {role} image `{name}` is {_mb(att.size)}; the limit is {_mb(max_bytes)}. "
            "Please send a smaller file.",
            code="too_large_bytes",
        )


@lru_cache(maxsize=8)
def download_origins(api_base: str) -> frozenset[Origin]:
    """Where attachments may be downloaded from: Discord's CDN hosts over HTTPS, and the
    scheme/host/port of the API base (a Discord-compatible server serves its own CDN)."""
    origins = {("https", host, 443) for host in DISCORD_CDN_HOSTS}
    base = yarl.URL(api_base)
    if base.host and base.port is not None:
        origins.add((base.scheme, base.host.lower(), base.port))
    return frozenset(origins)


def checked_url(url: str, *, role: str, allowed: frozenset[Origin]) -> yarl.URL:
    """The parsed attachment URL when it points at an allowed origin; else `InputRejected`
    (code `untrusted_url`), before any connection is made."""
    try:
        parsed = yarl.URL(url)
        origin = (parsed.scheme, (parsed.host or "").lower(), parsed.port)
    except (ValueError, TypeError):
        parsed, origin = None, None
    if parsed is None or origin not in allowed or parsed.user or parsed.password:
        where = f" (it points to `{origin[1]}`)" if origin and origin[1] else ""
        raise InputRejected(
            f"The {role} image's link is not a Discord attachment link{where}, so I won't "
            "download it. Please attach the image to your message instead.",
            code="untrusted_url",
        )
    return parsed


async def download(
    session: aiohttp.ClientSession,
    url: str | yarl.URL,
    *,
    max_bytes: int,
    timeout_s: float,
    role: str,
) -> bytes:
    """GET `url`, refusing more than `max_bytes` (the declared size may lie) or `timeout_s`.

    Redirects are refused, never followed: they could lead to any host.
    """
    try:
        async with session.get(
            url, timeout=aiohttp.ClientTimeout(total=timeout_s), allow_redirects=False
        ) as resp:
            if 300 <= resp.status < 400:
                raise InputRejected(
                    f"The link of the {role} image redirects elsewhere; I only download "
                    "attachments straight from Discord. Please re-upload it.",
                    code="download_redirect",
                )
            if resp.status != 200:
                raise InputRejected(
                    f"I couldn't download the {role} image (HTTP {resp.status}); "
                    "please re-upload it.",
                    code="download_failed",
                )
            if resp.content_length is not None and resp.content_length > max_bytes:
                raise _too_large(role, max_bytes)
            buffer = bytearray()
            async for chunk in resp.content.iter_chunked(64 * 1024):
                buffer += chunk
                if len(buffer) > max_bytes:
                    raise _too_large(role, max_bytes)
            return bytes(buffer)
    except TimeoutError:
        raise InputRejected(
            f"Downloading the {role} image took too long; please try again.",
            code="download_timeout",
        ) from None
    except aiohttp.ClientError as exc:
        raise InputRejected(
            f"I couldn't download the {role} image ({exc.__class__.__name__}); "
            "please re-upload it.",
            code="download_failed",
        ) from None


def _too_large(role: str, max_bytes: int) -> InputRejected:
    return InputRejected(
        f"The {role} image is larger than the {_mb(max_bytes)} limit.", code="too_large_bytes"
    )


def decode_and_normalise(data: bytes, *, filename: str, max_pixels: int) -> ValidImage:
    """Decode with the engine's validator and keep the sent bytes whenever they will do.

    Only animated, oversized (> `STORE_MAX_SIDE`), exotic-mode or exotic-format uploads are
    re-encoded: what was decoded (first frame, upright RGB, bounded), as JPEG when the upload
    was lossy, else as PNG unless a JPEG is less than half its size (an opaque photo).
    Width and height are always the upright size the engine will see.
    """
    from nst_engine.images import decode_image

    img = decode_image(data, max_pixels=max_pixels)
    width, height = img.size
    original = Image.open(io.BytesIO(data))
    fmt = str(original.format)
    # An MPO's extra frames are depth maps or stereo views, not an animation.
    animated = fmt != "MPO" and getattr(original, "is_animated", False)
    if (
        max(width, height) <= STORE_MAX_SIDE
        and fmt in KEPT_FORMATS
        and original.mode in KEPT_MODES
        and not animated
    ):
        return ValidImage(data, KEPT_FORMATS[fmt], width, height, filename)
    img = fit_within(img, STORE_MAX_SIDE)
    jpeg = encode_jpeg(img, quality=STORE_JPEG_QUALITY)
    if fmt not in LOSSY_FORMATS:
        png = encode_png(img)
        if len(png) <= 2 * len(jpeg):
            return ValidImage(png, "png", img.width, img.height, filename)
    return ValidImage(jpeg, "jpeg", img.width, img.height, filename)


def decode_all(items: list[tuple[str, str, bytes]], *, max_pixels: int) -> list[ValidImage]:
    """Decode (role, filename, data) items in order; raises `InputRejected` on the first bad one.

    Runs in one worker thread per request: Pillow's decompression-bomb warning filter is
    process-global, so decoding several images in parallel threads would race on it.
    """
    out = []
    for role, filename, data in items:
        try:
            out.append(decode_and_normalise(data, filename=filename, max_pixels=max_pixels))
        except ImageError as exc:
            raise InputRejected(
                f"The {role} image can't be used: {exc.message}", code=exc.code
            ) from None
    return out


async def fetch_images(
    session: aiohttp.ClientSession,
    attachments: list[tuple[str, AttachmentLike]],
    *,
    max_bytes: int,
    max_pixels: int,
    allowed_hosts: frozenset[Origin],
    timeout_s: float = 20.0,
) -> list[ValidImage]:
    """Pre-check every (role, attachment), download them concurrently, decode off the loop.

    `allowed_hosts` comes from `download_origins`; a URL elsewhere is refused unrequested.
    """
    urls = []
    for role, att in attachments:
        precheck(att, role=role, max_bytes=max_bytes)
        urls.append(checked_url(att.url, role=role, allowed=allowed_hosts))
    results = await asyncio.gather(
        *(
            download(session, url, max_bytes=max_bytes, timeout_s=timeout_s, role=role)
            for (role, _), url in zip(attachments, urls, strict=True)
        ),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    items = [
        (role, att.filename, data) for (role, att), data in zip(attachments, results, strict=True)
    ]
    return await asyncio.to_thread(decode_all, items, max_pixels=max_pixels)  # type: ignore[arg-type]


async def fetch_image(
    session: aiohttp.ClientSession,
    att: AttachmentLike,
    *,
    role: str,
    max_bytes: int,
    max_pixels: int,
    allowed_hosts: frozenset[Origin],
    timeout_s: float = 20.0,
) -> ValidImage:
    """Pre-check, download and validate one attachment; raises `InputRejected`."""
    found = await fetch_images(
        session,
        [(role, att)],
        max_bytes=max_bytes,
        max_pixels=max_pixels,
        allowed_hosts=allowed_hosts,
        timeout_s=timeout_s,
    )
    return found[0]
