"""Thumbnails kept in the store (`bot.store.thumbnails`): put once, read back, gone with their
image (retention, /forget)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store import Store
from tests.bot.store.helpers import submit


async def test_a_thumbnail_is_kept_once_and_goes_with_its_image(store: Store):
    job_id = await submit(store, 1, "content", guild=5, channel=6)
    claimed = await store.claim("w1")
    assert claimed is not None
    assert await store.complete(job_id, "w1", b"the-result", 8, 8, 1.0)
    job = await store.get_job(job_id)
    assert job is not None and job.result_sha is not None
    sha = job.result_sha

    assert await store.get_thumbnail(sha, 96) is None
    assert await store.put_thumbnail(sha, 96, b"small", "jpeg", 8, 6)
    assert not await store.put_thumbnail(sha, 96, b"again", "jpeg", 8, 6)  # first one stays
    assert await store.put_thumbnail(sha, 320, b"larger", "jpeg", 32, 24)
    small = await store.get_thumbnail(sha, 96)
    assert small is not None and (small.data, small.fmt, small.width, small.height) == (
        b"small",
        "jpeg",
        8,
        6,
    )
    assert small.sha == sha
    assert not await store.put_thumbnail("0" * 64, 96, b"x", "jpeg", 1, 1)  # no such image

    # Retention deletes the job and its images; their thumbnails go with them.
    await store.purge(30, now=datetime.now(UTC) + timedelta(days=31))
    assert await store.get_image(sha) is None
    assert await store.get_thumbnail(sha, 96) is None
    assert await store.get_thumbnail(sha, 320) is None


async def test_forget_user_removes_the_thumbnails_of_their_images(store: Store):
    job_id = await submit(store, 1, "mine")
    job = await store.get_job(job_id)
    assert job is not None
    assert await store.put_thumbnail(job.content_sha, 96, b"thumb", "jpeg", 8, 6)
    await store.forget_user(1)
    assert await store.get_thumbnail(job.content_sha, 96) is None
