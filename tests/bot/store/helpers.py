"""Helpers for store tests: distinct fake images and a one-line submit."""

from __future__ import annotations

import hashlib

from bot.store import ImageBlob, JobParams, Store


def blob(tag: str, fmt: str = "png") -> ImageBlob:
    """A distinct fake image (the store trusts the caller's decoding, so any bytes do)."""
    return ImageBlob(data=hashlib.sha256(tag.encode()).digest() * 4, fmt=fmt, width=64, height=48)


TINY = JobParams(size=64, preset="fast")


async def submit(store: Store, owner: int, tag: str = "c", **kw) -> int:
    """Queue a tiny job for `owner` and return its id."""
    job = await store.submit(
        owner,
        kw.pop("guild", None),
        kw.pop("channel", None),
        blob(tag),
        [(blob("style"), 1.0)],
        kw.pop("params", TINY),
        **kw,
    )
    return job.id
