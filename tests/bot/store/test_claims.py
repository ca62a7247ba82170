"""Fair, atomic, exactly-once claiming; worker guards; progress and outcomes (`bot.store.claims`).
Giving jobs back (requeue, the poison rule) is in test_recovery.py."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store import JobStatus, Store
from tests.bot.store.claimer import drain
from tests.bot.store.helpers import TINY, blob, submit

ROOT = Path(__file__).resolve().parents[3]


async def test_claim_hands_out_inputs_and_marks_running(store: Store) -> None:
    job_id = await submit(store, 1, "content")
    assert await store.claim("w1") is not None
    job = await store.get_job(job_id)
    assert job is not None and job.status is JobStatus.RUNNING and job.worker_id == "w1"
    assert job.attempts == 1 and job.started_at is not None
    assert await store.claim("w2") is None
    assert [w.id for w in await store.workers()] == ["w1"]
    assert (await store.workers())[0].current_job_id == job_id


async def test_claimed_job_carries_image_bytes(store: Store) -> None:
    styles = [(blob("s1"), 0.7), (blob("s2"), 0.3)]
    job = await store.submit(1, None, None, blob("c"), styles, TINY)
    claimed = await store.claim("w1")
    assert claimed is not None and claimed.job.id == job.id
    assert claimed.content.data == blob("c").data
    assert [(s.data, w) for s, w in claimed.styles] == [
        (blob("s1").data, 0.7),
        (blob("s2").data, 0.3),
    ]


async def test_round_robin_across_users(db_url: str) -> None:
    store = await Store.open(db_url, per_user_queue_limit=10)
    try:
        heavy = [await submit(store, 1, f"h{i}") for i in range(5)]
        light = await submit(store, 2, "l")
        late = await submit(store, 3, "z")
        order = []
        for _ in range(7):  # one executor: claim, finish, claim...
            claimed = await store.claim("w1")
            assert claimed is not None
            order.append(claimed.job.id)
            assert await store.complete(claimed.job.id, "w1", b"r", 1, 1, 0.1)
        # user 1's five jobs never starve users 2 and 3, each served once before user 1 again
        assert order[:3] == [heavy[0], light, late]
        assert order[3:] == heavy[1:]
    finally:
        await store.close()


async def test_fewest_running_first_with_two_executors(store: Store) -> None:
    a1, a2 = await submit(store, 1, "a1"), await submit(store, 1, "a2")
    b1 = await submit(store, 2, "b1")
    first, second = await store.claim("w1"), await store.claim("w2")
    assert first is not None and second is not None
    assert (first.job.id, second.job.id) == (a1, b1)
    third = await store.claim("w3")
    assert third is not None and third.job.id == a2


async def test_exactly_once_with_concurrent_asyncio_claimers(db_url: str) -> None:
    store = await Store.open(db_url, per_user_queue_limit=100, global_queue_limit=1000)
    try:
        ids = [await submit(store, i % 7, f"j{i}") for i in range(40)]
    finally:
        await store.close()
    results = await asyncio.gather(*(drain(db_url, f"task-{n}") for n in range(8)))
    claimed = Counter(job_id for worker in results for job_id in worker)
    assert sorted(claimed) == sorted(ids) and set(claimed.values()) == {1}
    store = await Store.open(db_url)
    try:
        for job_id in ids:
            job = await store.get_job(job_id)
            assert job is not None and job.status is JobStatus.SUCCEEDED and job.attempts == 1
    finally:
        await store.close()


async def _queue_jobs(url: str, n: int, users: int) -> list[int]:
    store = await Store.open(url, per_user_queue_limit=100, global_queue_limit=1000)
    try:
        return [await submit(store, i % users, f"p{i}") for i in range(n)]
    finally:
        await store.close()


def test_exactly_once_with_os_processes(db_url: str) -> None:
    ids = asyncio.run(_queue_jobs(db_url, 30, 5))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.bot.store.claimer", db_url, f"proc-{n}"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in outputs]
    claimed = Counter(int(line) for out, _ in outputs for line in out.split())
    assert sorted(claimed) == sorted(ids) and set(claimed.values()) == {1}


async def test_worker_guard_stops_a_zombie(store: Store) -> None:
    job_id = await submit(store, 1)
    assert await store.claim("old") is not None
    # "old" stops heart-beating; the job is requeued and claimed by "new".
    store.clock = lambda: datetime.now(UTC) + timedelta(seconds=60)
    actions = await store.requeue_stale(stale_after_s=20)
    assert [(a.job_id, a.action, a.worker_id, a.crashes) for a in actions] == [
        (job_id, "requeued", "old", 1)
    ]
    assert await store.claim("new") is not None
    assert not await store.heartbeat("old", job_id)
    assert not await store.report_progress(
        job_id, "old", scale=1, scales=1, step=5, total=10, eta_s=1.0, preview_jpeg=b"zombie"
    )
    assert not await store.complete(job_id, "old", b"zombie-result", 1, 1, 1.0)
    assert not await store.fail(job_id, "old", "x", "y")
    assert not await store.requeue(job_id, "old")
    job = await store.get_job(job_id)
    assert job is not None and job.status is JobStatus.RUNNING and job.worker_id == "new"
    assert job.result_sha is None and job.preview_sha is None
    assert await store.heartbeat("new", job_id)
    assert await store.complete(job_id, "new", b"good", 1, 1, 1.0)


async def test_preview_replaced_and_dropped_on_completion(store: Store) -> None:
    job_id = await submit(store, 1)
    assert await store.claim("w1") is not None
    assert await store.report_progress(
        job_id,
        "w1",
        scale=1,
        scales=2,
        step=1,
        total=4,
        eta_s=3.0,
        preview_jpeg=b"preview-1",
        preview_size=(32, 24),
    )
    first = await store.get_job(job_id)
    assert first is not None and first.preview_sha is not None
    assert first.progress.step == 1 and first.progress.eta_s == 3.0
    assert await store.report_progress(
        job_id, "w1", scale=2, scales=2, step=3, total=4, eta_s=1.0, preview_jpeg=b"preview-2"
    )
    second = await store.get_job(job_id)
    assert second is not None and second.preview_sha not in (None, first.preview_sha)
    assert await store.get_image(first.preview_sha) is None  # the old preview is gone
    assert await store.complete(job_id, "w1", b"final", 64, 48, 2.5, notes=["shrunk"])
    done = await store.get_job(job_id)
    assert done is not None and done.preview_sha is None and done.notes == "shrunk"
    assert await store.get_image(second.preview_sha or "") is None
    result = await store.get_image(done.result_sha or "")
    assert result is not None and result.data == b"final" and result.fmt == "png"
