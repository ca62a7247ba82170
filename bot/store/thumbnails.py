"""Thumbnails: downscaled copies of stored images, made once and kept next to them.

The store never decodes images (no Pillow here): the web face makes a thumbnail in a worker
thread the first time it is asked for and puts it here; every later request reads it back.
A thumbnail is keyed by its image's SHA-256 and its longest side, and goes with its image
(ON DELETE CASCADE), so retention and `/forget` remove it too.
"""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from bot.store.db import Database
from bot.store.models import Thumbnail
from bot.store.types import StoredImage


class ThumbnailsMixin(Database):
    async def get_thumbnail(self, sha: str, side: int) -> StoredImage | None:
        """The thumbnail of image `sha` at longest side `side`, or None if not made yet.
        Its `sha` is the image's (what the thumbnail was made from)."""
        async with self.read() as conn:
            row = (
                await conn.execute(
                    select(
                        Thumbnail.image_sha,
                        Thumbnail.data,
                        Thumbnail.fmt,
                        Thumbnail.width,
                        Thumbnail.height,
                    ).where(Thumbnail.image_sha == sha, Thumbnail.side == side)
                )
            ).first()
        return StoredImage(*row) if row else None

    async def put_thumbnail(
        self, sha: str, side: int, data: bytes, fmt: str, width: int, height: int
    ) -> bool:
        """Keep a thumbnail of image `sha`. False when it was not kept: another request
        stored it first (the same bytes, made from the same image), or the image is gone."""
        try:
            async with self.write() as conn:
                await conn.execute(
                    insert(Thumbnail).values(
                        image_sha=sha,
                        side=side,
                        data=data,
                        fmt=fmt,
                        width=width,
                        height=height,
                        created_at=self.clock(),
                    )
                )
        except IntegrityError:
            return False
        return True
