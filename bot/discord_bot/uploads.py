"""Images the bot uploads (results, previews) made to fit the job's upload limit.

The limit is the one Discord announced in the job's interaction (`attachment_size_limit`,
discord.py's `Interaction.filesize_limit`: it depends on the server's boosts and the user's
Nitro), stored with the job; jobs without one (made outside Discord, or before the limit was
stored) use discord.py's default. A destination that still refuses the upload as too large
(413 / 40005: a DM after a boosted server's interaction) gets it again at half the size.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import discord
from PIL import Image

from bot.store import Job
from nst_engine.images import encode_jpeg, fit_within

log = logging.getLogger(__name__)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_QUALITIES = (92, 85)  # tried at full size before any downscaling
DOWNSCALE_STEP = 0.75
SMALLEST_SIDE = 64
SHRINK_FLOOR = 16 * 1024  # never ask for less than this after a 413
TOO_LARGE_CODE = 40005  # Discord: "Request entity too large"
SHRINK_TRIES = 4


def upload_limit(job: Job) -> int:
    """The most bytes one attachment of `job` may have: its interaction's limit, else
    discord.py's default for a server without boosts."""
    ref = job.interaction
    if ref is not None and ref.upload_limit:
        return ref.upload_limit
    return discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES


@dataclass(frozen=True)
class Upload:
    """Bytes ready to attach, with the filename (and so the format) Discord will show."""

    data: bytes
    filename: str

    def file(self) -> discord.File:
        """A fresh File per attempt: a failed send leaves the previous one's buffer consumed."""
        return discord.File(io.BytesIO(self.data), filename=self.filename)


def _extension(data: bytes) -> str:
    return "png" if data.startswith(PNG_MAGIC) else "jpg"


def fit_upload(data: bytes, limit: int, stem: str) -> Upload:
    """`data` (PNG or JPEG) as it is when it fits `limit` bytes; else a JPEG at lower quality,
    then downscaled by quarters until it fits (at worst a 64 px thumbnail)."""
    if len(data) <= limit:
        return Upload(data, f"{stem}.{_extension(data)}")
    img = Image.open(io.BytesIO(data)).convert("RGB")
    for quality in JPEG_QUALITIES:
        out = encode_jpeg(img, quality=quality)
        if len(out) <= limit:
            return Upload(out, f"{stem}.jpg")
    side = max(img.size)
    while side > SMALLEST_SIDE:
        side = int(side * DOWNSCALE_STEP)
        out = encode_jpeg(fit_within(img, side), quality=JPEG_QUALITIES[-1])
        if len(out) <= limit:
            return Upload(out, f"{stem}.jpg")
    return Upload(encode_jpeg(fit_within(img, SMALLEST_SIDE), quality=60), f"{stem}.jpg")


async def fitted(data: bytes, limit: int, stem: str) -> Upload:
    """`fit_upload` off the event loop when re-encoding is needed (decoding takes a while)."""
    if len(data) <= limit:
        return fit_upload(data, limit, stem)
    return await asyncio.to_thread(fit_upload, data, limit, stem)


def too_large(exc: discord.HTTPException) -> bool:
    """Discord refused an upload for its size."""
    return exc.status == 413 or exc.code == TOO_LARGE_CODE


class Result:
    """The result image, re-encoded to fit an upload limit that may turn out to be lower."""

    def __init__(self, data: bytes, stem: str, limit: int) -> None:
        self.data = data
        self.stem = stem
        self.limit = limit
        self.upload: Upload | None = None

    async def prepare(self) -> Upload:
        """Fit the image to the current limit."""
        self.upload = await fitted(self.data, self.limit, self.stem)
        return self.upload

    async def shrink(self) -> Upload:
        """After a 413: try again at half the size that was refused."""
        assert self.upload is not None
        self.limit = max(SHRINK_FLOOR, len(self.upload.data) // 2)
        return await self.prepare()


async def send_fitting(
    send: Callable[[Upload | None], Awaitable[discord.Message]], result: Result | None
) -> discord.Message:
    """Send, shrinking the upload when Discord answers 413 (the limit was lower than known)."""
    for _ in range(SHRINK_TRIES):
        try:
            return await send(result.upload if result else None)
        except discord.HTTPException as exc:
            if result is None or result.upload is None or not too_large(exc):
                raise
            log.info("upload of %d bytes refused as too large; shrinking", len(result.upload.data))
            await result.shrink()
    return await send(result.upload if result else None)
