"""Helpers for store tests: distinct fake images, a one-line submit, a one-line finish."""

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


async def finish(store: Store, job_id: int, result: bytes) -> None:
    """Claim the next job as worker "w1" (it must be `job_id`) and complete it with `result`."""
    claimed = await store.claim("w1")
    assert claimed is not None and claimed.job.id == job_id
    assert await store.complete(job_id, "w1", result, 8, 8, 1.0)
