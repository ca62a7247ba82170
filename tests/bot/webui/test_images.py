"""Thumbnails and caching headers (`bot.webui.images`)."""

from __future__ import annotations

import io

from PIL import Image

from bot.store import Store
from bot.webui.images import Thumbnails, make_thumbnail
from tests.bot.store.conftest import db_url, store  # noqa: F401  (SQLite and PostgreSQL)


def encoded(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def test_a_thumbnail_fits_its_side_keeps_the_shape_and_never_grows():
    for fmt, mode in (("JPEG", "RGB"), ("PNG", "RGBA"), ("PNG", "P")):
        data = encoded(Image.new(mode, (1200, 600)), fmt)
        thumb, width, height = make_thumbnail(data, 320)
        with Image.open(io.BytesIO(thumb)) as img:
            assert img.format == "JPEG" and img.size == (width, height) == (320, 160), fmt
    small = encoded(Image.new("RGB", (50, 40)), "PNG")
    assert make_thumbnail(small, 320)[1:] == (50, 40)


async def test_a_made_thumbnail_is_kept_and_bad_images_get_none(store: Store):  # noqa: F811
    photo = encoded(Image.new("RGB", (640, 480), (200, 30, 30)), "PNG")
    sha = await store.put_image(photo, "png", 640, 480)
    broken = await store.put_image(b"\x89PNG not really", "png", 10, 10)
    thumbnails = Thumbnails(store)
    first = await thumbnails.make(sha, 96)
    assert first is not None and (first.width, first.height) == (96, 72)
    kept = await store.get_thumbnail(sha, 96)
    assert kept is not None and kept.data == first.data
    assert await thumbnails.make(broken, 96) is None  # unreadable: no thumbnail, no crash
    assert await thumbnails.make("0" * 64, 96) is None  # no such image
