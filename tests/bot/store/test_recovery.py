"""Executor fencing tokens and crash accounting: a crash counts only when the job's own
executor died while the rest of its host (its session) kept running."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store import JobStatus, Store
from tests.bot.store.helpers import submit


def later(store: Store, seconds: float) -> None:
    base = store.clock
    store.clock = lambda: base() + timedelta(seconds=seconds)


async def test_a_second_process_with_the_same_worker_id_is_fenced_off(store: Store) -> None:
    job_id = await submit(store, 1)
    first = await store.claim("gpu-0")
    assert first is not None and first.token and len(first.token) == 32
    # The job goes stale and is claimed again by another process using the same id.
    later(store, 60)
    assert [a.job_id for a in await store.requeue_stale(30)] == [job_id]
    second = await store.claim("gpu-0")
    assert second is not None and second.job.id == job_id and second.token != first.token

    old = first.token
    assert not await store.heartbeat("gpu-0", job_id, token=old)
    assert not await store.report_progress(
        job_id, "gpu-0", scale=1, scales=1, step=1, total=2, eta_s=1.0, token=old
    )
    assert not await store.complete(job_id, "gpu-0", b"zombie", 1, 1, 1.0, token=old)
    assert not await store.fail(job_id, "gpu-0", "x", "y", token=old)
    assert not await store.mark_cancelled(job_id, "gpu-0", token=old)
    assert not await store.requeue(job_id, "gpu-0", token=old)
    job = await store.get_job(job_id)
    assert job is not None and job.status is JobStatus.RUNNING and job.result_sha is None

    assert await store.heartbeat("gpu-0", job_id, token=second.token)
    assert await store.complete(job_id, "gpu-0", b"good", 1, 1, 1.0, token=second.token)


async def _running(store: Store, worker: str, *, host: str | None, session: str | None) -> int:
    """A new job, running on a freshly registered executor (host, session)."""
    job_id = await submit(store, len(worker), worker)
    await store.register_worker(worker, host=host, pid=100, session=session)
    claimed = await store.claim(worker)
    assert claimed is not None and claimed.job.id == job_id
    return job_id


async def test_a_crash_counts_when_another_executor_of_its_session_outlived_the_job(
    store: Store,
) -> None:
    job_id = await _running(store, "a", host="h1", session="s1")
    await store.register_worker("b", host="h1", pid=101, session="s1")
    later(store, 60)
    await store.heartbeat("b")  # b kept running after a's job went silent
    [action] = await store.requeue_stale(30)
    assert (action.job_id, action.action, action.crashed, action.crashes) == (
        job_id,
        "requeued",
        True,
        1,
    )


async def test_a_whole_session_dying_is_not_the_jobs_fault(store: Store) -> None:
    await store.register_worker("b", host="h1", pid=101, session="s1")  # then died with a
    job_id = await _running(store, "a", host="h1", session="s1")
    later(store, 60)
    # Other hosts and a new session of the same host heart-beat; nothing of s1 does.
    await store.register_worker("elsewhere", host="h2", pid=5, session="s1")
    await store.register_worker("new", host="h1", pid=102, session="s2")
    [action] = await store.requeue_stale(30)
    assert (action.job_id, action.action, action.crashed) == (job_id, "requeued", False)
    job = await store.get_job(job_id)
    assert job is not None and job.crashes == 0 and job.status is JobStatus.QUEUED


async def test_restarted_worker_id_gives_back_its_predecessors_job(store: Store) -> None:
    # Same session (its supervisor lived): a crash. New session (service restart): none.
    job_id = await _running(store, "a", host="h1", session="s1")
    [action] = await store.register_worker("a", host="h1", pid=200, session="s1")
    assert (action.job_id, action.action, action.crashed) == (job_id, "requeued", True)
    claimed = await store.claim("a")
    assert claimed is not None and claimed.job.id == job_id
    [action] = await store.register_worker("a", host="h1", pid=300, session="s2")
    assert (action.job_id, action.action, action.crashed) == (job_id, "requeued", False)
    job = await store.get_job(job_id)
    assert job is not None and (job.status, job.crashes) == (JobStatus.QUEUED, 1)
    assert await store.register_worker("a", host="h1", pid=301, session="s2") == []


async def test_recover_worker_applies_the_poison_rule_and_checks_the_pid(store: Store) -> None:
    job_id = await _running(store, "a", host="h1", session="s1")
    assert await store.recover_worker("a", pid=999, crashed=True) == []  # not that process
    [first] = await store.recover_worker("a", pid=100, crashed=True, max_crashes=2)
    assert (first.action, first.crashes) == ("requeued", 1)
    assert (await store.claim("a")) is not None
    [second] = await store.recover_worker("a", crashed=True, max_crashes=2)
    assert (second.action, second.crashes) == ("failed", 2)
    job = await store.get_job(job_id)
    assert job is not None and job.error_code == "internal_error"
    assert job.delivery.state is not None  # finished: waits for delivery


async def test_orderly_kill_at_shutdown_requeues_without_a_crash(store: Store) -> None:
    job_id = await _running(store, "a", host="h1", session="s1")
    for _ in range(3):  # three deploys in a row, each ran out of grace time
        [action] = await store.recover_worker("a", crashed=False, max_crashes=2)
        assert (action.action, action.crashes) == ("requeued", 0)
        assert (await store.claim("a")) is not None
    job = await store.get_job(job_id)
    assert job is not None and job.status is JobStatus.RUNNING and job.crashes == 0


async def test_poison_rule_after_two_dead_executors(store: Store) -> None:
    job_id = await submit(store, 1)
    offset = timedelta(0)
    store.clock = lambda: datetime.now(UTC) + offset
    for attempt, expected in ((1, "requeued"), (2, "failed")):
        offset = timedelta(0)
        claimed = await store.claim(f"w{attempt}")
        assert claimed is not None and claimed.job.id == job_id
        offset = timedelta(seconds=60)  # its executor died: no heartbeat since
        [action] = await store.requeue_stale(stale_after_s=20, max_crashes=2)
        assert (action.action, action.crashes) == (expected, attempt)
    job = await store.get_job(job_id)
    assert job is not None and job.status is JobStatus.FAILED
    assert job.error_code == "internal_error" and job.error_message is not None
    assert "internal error" in job.error_message and "2 times" in job.error_message
    assert await store.claim("w3") is None


async def test_fresh_heartbeat_is_not_stale(store: Store) -> None:
    await submit(store, 1)
    claimed = await store.claim("w1")
    assert claimed is not None
    assert await store.heartbeat("w1", claimed.job.id, host="gpu-1", pid=1234)
    assert await store.requeue_stale(stale_after_s=20) == []
    [worker] = await store.workers(stale_after_s=20)
    assert (worker.host, worker.pid) == ("gpu-1", 1234)
    assert await store.executors_online() == 1
    await store.unregister_worker("w1")
    assert await store.executors_online() == 0


async def test_requeue_on_sigterm_and_cancel_wins(store: Store) -> None:
    a, b = await submit(store, 1, "a"), await submit(store, 2, "b")
    assert (await store.claim("w1")) is not None
    assert await store.report_progress(a, "w1", scale=1, scales=2, step=3, total=10, eta_s=5.0)
    assert await store.requeue(a, "w1")
    job = await store.get_job(a)
    assert job is not None and job.status is JobStatus.QUEUED and job.worker_id is None
    assert job.progress.step == 0 and job.crashes == 0
    claimed = [await store.claim("w1"), await store.claim("w2")]
    assert {c.job.id for c in claimed if c} == {a, b}
    await store.request_cancel(b, 2)
    holder = next(c for c in claimed if c and c.job.id == b).job.worker_id
    assert holder is not None and await store.requeue(b, holder)
    cancelled = await store.get_job(b)
    assert cancelled is not None and cancelled.status is JobStatus.CANCELLED
