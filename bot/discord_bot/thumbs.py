"""Small JPEG copies of stored images for Discord messages (result side images, `/history`).

Made once per image and side in a worker thread (decoding and resizing would stall the event
loop) and kept in the store's thumbnail cache (`get_thumbnail` / `put_thumbnail`), so a second
`/history` page or a re-delivery reads them back instead of decoding again.
"""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord
from PIL import Image

from bot.discord_bot.uploads import Upload, fitted
from bot.store.types import Job, StoredImage
from nst_engine.images import encode_jpeg, fit_within

if TYPE_CHECKING:
    from bot.store.ports import BotStore

log = logging.getLogger(__name__)

# The web face caches the same sides (bot/webui/images.py), so both share thumbnail rows.
SIDE_IMAGE_PX = 768  # content and style beside a result: sharp enough when opened
HISTORY_THUMB_PX = 320  # one tile of a ten-tile gallery
QUALITY = 82


def make_thumbnail(data: bytes, side: int) -> tuple[bytes, int, int]:
    """JPEG bytes, width and height of `data` downscaled to fit `side` (never upscaled)."""
    with Image.open(io.BytesIO(data)) as src:
        img = fit_within(src.convert("RGB"), side)
    return encode_jpeg(img, quality=QUALITY), img.width, img.height


async def thumbnail(store: BotStore, sha: str, side: int) -> bytes | None:
    """The cached thumbnail of image `sha` at `side`, made and cached on first use; None when
    the image is gone (purged, forgotten) or can't be decoded."""
    cached = await store.get_thumbnail(sha, side)
    if cached is not None:
        return cached.data
    image: StoredImage | None = await store.get_image(sha)
    if image is None:
        return None
    try:
        data, width, height = await asyncio.to_thread(make_thumbnail, image.data, side)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        # Stored images were decoded once at intake; this only guards a damaged row.
        log.warning("image %s: no thumbnail (%s)", sha[:12], type(exc).__name__)
        return None
    await store.put_thumbnail(sha, side, data, "jpeg", width, height)
    return data


@dataclass(frozen=True)
class Tile:
    """An attached image that a component shows as `attachment://filename`, with its
    description (the alt text Discord shows)."""

    upload: Upload
    description: str

    @property
    def url(self) -> str:
        return f"attachment://{self.upload.filename}"

    @property
    def size(self) -> int:
        return len(self.upload.data)

    def file(self) -> discord.File:
        return self.upload.file()


async def side_tiles(store: BotStore, job: Job, limit: int) -> list[Tile]:
    """The content photo and the first style image of `job`, to show beside its result
    (whatever of them is still stored), each fitted to `limit` bytes."""
    wanted = [(job.content_sha, f"content-{job.id}", "Content photo")]
    if job.styles:
        more = f" (+{len(job.styles) - 1} more)" if len(job.styles) > 1 else ""
        wanted.append((job.styles[0][0], f"style-{job.id}", f"Style{more}"))
    tiles = []
    for sha, stem, description in wanted:
        data = await thumbnail(store, sha, SIDE_IMAGE_PX)
        if data is not None:
            tiles.append(Tile(await fitted(data, limit, stem), description))
    return tiles


async def result_tiles(store: BotStore, jobs: list[Job]) -> dict[int, Tile]:
    """A small copy of each finished job's result, by job id (jobs without one are left out)."""
    tiles: dict[int, Tile] = {}
    for job in jobs:
        if job.result_sha is None:
            continue
        data = await thumbnail(store, job.result_sha, HISTORY_THUMB_PX)
        if data is not None:
            tiles[job.id] = Tile(Upload(data, f"history-{job.id}.jpg"), f"#{job.id}")
    return tiles
