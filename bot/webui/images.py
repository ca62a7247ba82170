"""Serving stored images: content-addressed (ETag = sha, immutable, 304 on If-None-Match) and
thumbnails made once in a worker thread (Pillow never runs on the event loop) and kept in the
store (`bot.store.thumbnails`)."""

from __future__ import annotations

import asyncio
import io
import logging

from aiohttp import web
from PIL import Image

from bot.store import Store, StoredImage
from nst_engine.images import encode_jpeg

log = logging.getLogger(__name__)

IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
# Longest sides a thumbnail may be asked for: the inputs on a card, the card's pastiche, the
# pastiche on a gallery job page. A fixed set, so nobody can make the server render others.
SMALL, CARD, LARGE = 96, 320, 768
THUMB_SIDES = (SMALL, CARD, LARGE)
THUMB_QUALITY = 82
# Images by sha never change: browsers keep them for good. "private" keeps them out of
# shared caches (a proxy), gallery images too: after /forget nothing serves them any more.
IMMUTABLE = "private, max-age=31536000, immutable"


def make_thumbnail(data: bytes, side: int) -> tuple[bytes, int, int]:
    """JPEG bytes of the image scaled to fit `side` (never up), and their size. Pillow: call
    it in a worker thread."""
    with Image.open(io.BytesIO(data)) as img:
        img.draft("RGB", (side, side))  # JPEG: decode at a fraction of the size when it can
        rgb = img.convert("RGB")
    rgb.thumbnail((side, side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return encode_jpeg(rgb, quality=THUMB_QUALITY), rgb.width, rgb.height


class Thumbnails:
    """Makes the thumbnails the store does not have yet: once (concurrent requests for the
    same one wait for the first), in a worker thread, then kept in the store."""

    def __init__(self, store: Store, *, concurrency: int = 2) -> None:
        self.store = store
        self.slots = asyncio.Semaphore(concurrency)  # Pillow threads at once
        self.making: dict[tuple[str, int], asyncio.Future[StoredImage | None]] = {}

    async def make(self, sha: str, side: int) -> StoredImage | None:
        """Make (in a worker thread) and keep the thumbnail the store does not have yet;
        concurrent requests for the same one share the work. None if the image is gone."""
        if side not in THUMB_SIDES:
            raise ValueError(f"no thumbnails of side {side}")
        key = (sha, side)
        running = self.making.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[StoredImage | None] = asyncio.get_running_loop().create_future()
        self.making[key] = future
        try:
            made = await self._make(sha, side)
            future.set_result(made)
            return made
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            del self.making[key]

    async def _make(self, sha: str, side: int) -> StoredImage | None:
        image = await self.store.get_image(sha)
        if image is None:
            return None
        async with self.slots:
            try:
                data, width, height = await asyncio.to_thread(make_thumbnail, image.data, side)
            except (OSError, ValueError, Image.DecompressionBombError) as exc:
                # A stored image Pillow can't read (it passed the intake checks once): the
                # card shows no thumbnail; the page and the process carry on.
                log.warning("no thumbnail of image %s: %s", sha[:12], type(exc).__name__)
                return None
        await self.store.put_thumbnail(sha, side, data, "jpeg", width, height)
        return StoredImage(sha, data, "jpeg", width, height)


def etag_matches(request: web.Request, etag: str) -> bool:
    """Whether the request's If-None-Match names `etag` (a list, weak tags and `*` too)."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return etag in tags or "*" in tags


def not_modified(request: web.Request, etag: str, cache_control: str) -> web.Response | None:
    """A 304 when the browser already has this content-addressed image, else None."""
    if not etag_matches(request, etag):
        return None
    return web.Response(status=304, headers=_cache_headers(etag, cache_control))


def image_response(
    image: StoredImage,
    etag: str,
    cache_control: str,
    *,
    filename: str | None = None,
) -> web.Response:
    """The image's bytes with caching headers; `filename`: as a download."""
    headers = _cache_headers(etag, cache_control)
    if filename is not None:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    ctype = IMAGE_TYPES.get(image.fmt, "application/octet-stream")
    return web.Response(body=image.data, content_type=ctype, headers=headers)


async def stored_image_response(
    request: web.Request, store: Store, sha: str, *, download_stem: str
) -> web.Response | None:
    """A stored image by its sha, immutable: a 304 when the browser has it, else its bytes
    (as `download_stem`.<ext> when `?download` is asked); None when it is gone."""
    etag = f'"{sha}"'
    unchanged = not_modified(request, etag, IMMUTABLE)
    if unchanged is not None:
        return unchanged
    stored = await store.get_image(sha)
    if stored is None:
        return None
    filename = f"{download_stem}.{extension(stored.fmt)}" if "download" in request.query else None
    return image_response(stored, etag, IMMUTABLE, filename=filename)


def extension(fmt: str) -> str:
    """File extension of a stored format."""
    return "jpg" if fmt == "jpeg" else fmt


def _cache_headers(etag: str, cache_control: str) -> dict[str, str]:
    return {"Cache-Control": cache_control, "ETag": etag, "X-Content-Type-Options": "nosniff"}
