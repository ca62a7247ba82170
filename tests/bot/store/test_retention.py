"""Retention and user deletion (`bot.store.retention`): purges in batches, and `/forget`
follows the images, not only the owner."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from bot.store import JobParams, JobStatus, Store, Viewer
from bot.store.db import sha256
from bot.store.models import Image, JobRow, JobStyle
from tests.bot.store.helpers import TINY, blob, finish, submit


async def test_purge_deletes_old_jobs_and_their_unshared_images(store: Store) -> None:
    old = await submit(store, 1, "old-content")
    await finish(store, old, b"old-result")
    old_job = await store.get_job(old)
    assert old_job is not None
    shared_style = old_job.styles[0][0]
    keep = await submit(store, 2, "new-content")  # same style image as the old job
    await store.set_user_settings(1, size=128)

    later = datetime.now(UTC) + timedelta(days=31)
    done = await store.purge(30, now=later)
    assert (done.jobs, done.images) == (1, 2)  # old content + old result; style still used
    assert await store.get_job(old) is None
    assert await store.get_image(old_job.content_sha) is None
    assert await store.get_image(old_job.result_sha or "") is None
    assert await store.get_image(shared_style) is not None
    assert await store.get_job(keep) is not None  # active jobs are never purged
    assert (await store.get_user_settings(1)).size == 128


async def test_purge_keeps_recent_jobs_and_sweeps_stale_orphans(store: Store) -> None:
    recent = await submit(store, 1)
    await finish(store, recent, b"recent")
    orphan = await store.put_image(b"uploaded-but-never-used", "png", 1, 1)
    assert (await store.purge(30)).jobs == 0
    assert await store.get_image(orphan) is not None  # within the grace period
    done = await store.purge(30, now=datetime.now(UTC) + timedelta(hours=2))
    assert (done.jobs, done.images) == (0, 1)
    assert await store.get_image(orphan) is None
    assert await store.get_job(recent) is not None


async def test_forget_user_removes_everything_of_theirs_only(store: Store) -> None:
    mine = await submit(store, 1, "mine")
    await finish(store, mine, b"my-result")
    variation = await submit(store, 2, "theirs", params=JobParams(parent_job_id=mine))
    running = await submit(store, 1, "mine-2")
    assert (await store.claim("w2")) is not None  # user 2's job (user 1 got served already)
    await store.set_user_settings(1, private=True)

    done = await store.forget_user(1)
    assert done.jobs == 2 and done.images >= 3
    assert await store.get_job(mine) is None and await store.get_job(running) is None
    assert await store.history(1, Viewer(1)) == []
    assert (await store.get_user_settings(1)).private is None
    child = await store.get_job(variation)
    assert child is not None and child.params.parent_job_id is None
    assert await store.get_image(child.styles[0][0]) is not None  # shared style kept
    assert await store.get_image(child.content_sha) is not None


# -- forgetting follows the images, not only the owner ------------------------------------

ALICE, BOB = 101, 202


async def _job(store: Store, owner: int, content, style, params: JobParams = TINY) -> int:
    job = await store.submit(owner, 7, 8, content, [(style, 1.0)], params)
    return job.id


async def _run(store: Store, job_id: int, result: bytes) -> str:
    """Claim (it must be this job) and complete it; returns the result's sha."""
    await finish(store, job_id, result)
    job = await store.get_job(job_id)
    assert job is not None and job.result_sha is not None
    return job.result_sha


async def test_forget_removes_copies_of_their_images_in_other_users_jobs(store: Store) -> None:
    photo, painting = blob("alice-photo"), blob("alice-painting")
    # Alice's own job, then Bob reruns it: her images, credited to her.
    first = await _job(store, ALICE, photo, painting)
    results = [await _run(store, first, b"alice-result")]
    rerun = await _job(
        store,
        BOB,
        replace(photo, source_user_id=ALICE),
        replace(painting, source_user_id=ALICE),
        params=replace(TINY, parent_job_id=first, style_strength=0.1),
    )
    results.append(await _run(store, rerun, b"bob-rerun-result"))
    # Bob's "Stylize" menu on Alice's message: a photo of hers the store never saw before.
    menu_photo = blob("alice-message-photo")
    menu = await _job(store, BOB, replace(menu_photo, source_user_id=ALICE), blob("bob-style"))
    claimed = await store.claim("w1")
    assert claimed is not None and claimed.job.id == menu
    assert await store.report_progress(
        menu, "w1", scale=1, scales=2, step=3, total=9, eta_s=1.0, preview_jpeg=b"preview"
    )
    preview = (await store.get_job(menu)).preview_sha  # type: ignore[union-attr]
    # Bob's own work, which shares nothing of Alice's.
    own = await _job(store, BOB, blob("bob-photo"), blob("bob-style-2"))
    own_result = await _run(store, own, b"bob-own-result")

    jobs = {j: await store.get_job(j) for j in (first, rerun, menu)}
    assert jobs[rerun].content_source_id == ALICE  # type: ignore[union-attr]
    assert jobs[rerun].style_source_ids == (ALICE,)  # type: ignore[union-attr]
    assert jobs[menu].style_source_ids == (BOB,)  # type: ignore[union-attr]
    done = await store.forget_user(ALICE)

    assert done.jobs == 3
    for job_id in (first, rerun, menu):
        assert await store.get_job(job_id) is None
    gone = [photo, painting, menu_photo]
    for sha in [sha256(b.data) for b in gone] + results + [preview]:
        assert await store.get_image(sha) is None, sha
    kept = await store.get_job(own)
    assert kept is not None and kept.status is JobStatus.SUCCEEDED
    for sha in [kept.content_sha, kept.styles[0][0], own_result]:
        assert await store.get_image(sha) is not None


async def test_forget_follows_reruns_recorded_before_sources_were(store: Store) -> None:
    photo = blob("alice-old-photo")
    first = await _job(store, ALICE, photo, blob("style"))
    await _run(store, first, b"r1")
    rerun = await _job(store, BOB, photo, blob("style"), params=replace(TINY, parent_job_id=first))
    async with store.write() as conn:  # as migration 0002 left rows made before it
        await conn.execute(update(JobRow).values(content_source_id=None))
        await conn.execute(update(JobStyle).values(source_user_id=None))
    assert (await store.get_job(rerun)).content_source_id == BOB  # type: ignore[union-attr]
    bystander = await _job(store, BOB, blob("bob-photo"), blob("style"))

    assert (await store.forget_user(ALICE)).jobs == 2
    assert await store.get_job(rerun) is None
    assert await store.get_image(sha256(photo.data)) is None
    assert await store.get_job(bystander) is not None


async def test_forget_is_batched_and_complete(store: Store) -> None:
    ids = []
    for n in range(130):  # more than one batch (FIRST_BATCH = 50)
        ids.append(await _job(store, ALICE, blob(f"p{n}"), blob("style")))
        if n % 3 == 0:
            await store.request_cancel(ids[-1], ALICE)  # keep the queue limit from refusing
        else:
            await _run(store, ids[-1], f"r{n}".encode())
    await store.set_user_settings(ALICE, size=128)
    done = await store.forget_user(ALICE)
    assert done.jobs == 130 and done.batches >= 3
    assert await store.recent_jobs(200, owner_id=ALICE) == []
    assert (await store.get_user_settings(ALICE)).size is None
    async with store.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(Image)) == 0


# -- purge in batches ------------------------------------------------------------------------


async def test_purge_works_in_batches_and_lets_heartbeats_in(store: Store) -> None:
    old_clock = store.clock
    store.clock = lambda: old_clock() - timedelta(days=40)
    for n in range(260):
        job = await _job(store, n, blob(f"old-{n}"), blob("style"))
        await _run(store, job, f"old-result-{n}".encode())
    store.clock = old_clock
    live = await _job(store, 9999, blob("live"), blob("style"))
    assert (await store.claim("w-live")) is not None

    purge = asyncio.create_task(store.purge(30))
    await asyncio.sleep(0)  # let the purge take its first batch
    assert await store.heartbeat("w-live", live)  # got in while the purge is still going
    assert not purge.done()
    done = await purge
    assert (done.jobs, done.images) == (260, 520) and done.batches >= 4
    assert done.longest_hold_s > 0
    job = await store.get_job(live)
    assert job is not None and job.status is JobStatus.RUNNING and job.worker_id == "w-live"
    assert await store.get_image(job.styles[0][0]) is not None  # still used by the live job
