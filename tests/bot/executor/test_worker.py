"""`bot.executor.worker`: real `nst-bot executor` processes on a real SQLite file, running the
real engine at 64 px."""

from __future__ import annotations

import asyncio
import io
import re
import signal
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from bot.store import ImageBlob, Job, JobParams, JobStatus, Store
from tests.bot.executor.conftest import (
    POISON_ENV,
    TINY,
    Cluster,
    ExecutorProc,
    all_finished,
    jobs_by_id,
    submit_many,
    submit_poison,
    wait_for,
)

# A run long enough to be caught mid-way (several seconds on one CPU thread).
LONG = JobParams(size=160, preset="high")


def count_lines(cluster: Cluster, pattern: str) -> Counter[int]:
    """How many times each job id appears in lines matching `pattern` across all logs."""
    found: Counter[int] = Counter()
    for match in re.finditer(pattern, cluster.logs()):
        found[int(match.group(1))] += 1
    return found


async def running_on(store: Store, job_id: int, worker_id: str, min_step: int = 0) -> bool:
    job = await store.get_job(job_id)
    assert job is not None
    return (
        job.status == JobStatus.RUNNING
        and job.worker_id == worker_id
        and job.progress.step >= min_step
    )


async def long_job_running(
    store: Store, cluster: Cluster, inputs: dict, worker_id: str
) -> tuple[Job, ExecutorProc]:
    """A LONG job, and a new executor that has taken it and reported progress."""
    job = (await submit_many(store, inputs, 1, params=LONG))[0]
    ex = cluster.spawn(worker_id)
    await wait_for(
        lambda: running_on(store, job.id, worker_id, min_step=1),
        90,
        "the long job to report progress",
        cluster=cluster,
    )
    return job, ex


async def test_runs_jobs_and_fails_bad_input_with_its_reason(store, cluster, inputs):
    good = (await submit_many(store, inputs, 1))[0]
    png = inputs["tubingen"].data
    cut = ImageBlob(png[: len(png) // 2], "png", 64, 48)  # upload cut off halfway
    bad = await store.submit(1002, None, None, cut, [(inputs["starry_night"], 1.0)], TINY)

    ex = cluster.spawn("solo", once=True)
    assert await asyncio.to_thread(ex.wait, 120) == 0, ex.log()

    jobs = await jobs_by_id(store, [good.id, bad.id])
    ok, failed = jobs[good.id], jobs[bad.id]
    assert ok.status == JobStatus.SUCCEEDED, ex.log()
    assert ok.attempts == 1 and ok.worker_id == "solo" and ok.elapsed_s
    assert ok.progress.total > 0
    assert ok.precision == _auto_precision()  # BF16=auto: what this CPU does natively
    result = await store.get_image(ok.result_sha)
    assert result is not None
    img = Image.open(io.BytesIO(result.data))
    assert img.format == "PNG" and max(img.size) == 64

    assert failed.status == JobStatus.FAILED
    assert failed.error_code == "truncated"
    assert "incomplete or corrupt" in failed.error_message
    assert failed.attempts == 1 and failed.result_sha is None  # failed once, never retried


def _auto_precision() -> str:
    import torch

    from nst_engine.precision import resolve

    return resolve("auto", torch.device("cpu"))[0]


async def test_forced_bf16_is_what_the_job_records(store, cluster, inputs):
    job = (await submit_many(store, inputs, 1))[0]
    ex = cluster.spawn("bf16", once=True, BF16="true")  # emulated bf16 works on any CPU
    assert await asyncio.to_thread(ex.wait, 120) == 0, ex.log()
    done = await store.get_job(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED, ex.log()
    assert done.precision == "bf16"
    assert f"job {job.id} succeeded" in ex.log() and "(bf16)" in ex.log()


async def test_two_executors_run_twenty_jobs_exactly_once_and_fairly(store, cluster, inputs):
    # One heavy user queues 14 jobs before two light users queue 3 each.
    heavy = await submit_many(store, inputs, 14, users=1, first_user=1001)
    light = await submit_many(store, inputs, 6, users=2, first_user=2001)
    ids = [j.id for j in heavy + light]

    a, b = cluster.spawn("exec-a"), cluster.spawn("exec-b")
    done = await wait_for(lambda: all_finished(store, ids), 180, "20 jobs", cluster=cluster)

    assert all(j.status == JobStatus.SUCCEEDED for j in done.values()), cluster.logs()
    assert all(j.attempts == 1 and j.crashes == 0 for j in done.values())
    assert all(j.result_sha for j in done.values())
    per_worker = Counter(j.worker_id for j in done.values())
    assert set(per_worker) == {"exec-a", "exec-b"} and min(per_worker.values()) > 0
    # Each job was claimed and completed by exactly one process, by the processes' own logs.
    assert count_lines(cluster, r"claimed job (\d+) ") == Counter(dict.fromkeys(ids, 1))
    assert count_lines(cluster, r"job (\d+) succeeded") == Counter(dict.fromkeys(ids, 1))
    assert a.alive() and b.alive()
    # Fair: round-robin across owners, so the light users' jobs don't wait behind all 14.
    order = [j.id for j in sorted(done.values(), key=lambda j: j.started_at)]
    assert {j.id for j in light} <= set(order[:10]), order


async def test_kill_9_mid_job_five_times_loses_and_duplicates_nothing(store, cluster, inputs):
    jobs = await submit_many(store, inputs, 7, users=3)
    ids = [j.id for j in jobs]
    killed: list[int] = []
    live = {ex.worker_id: ex for ex in (cluster.spawn("x-0"), cluster.spawn("x-1"))}

    async def fresh_job_on_a_live_executor() -> tuple[int, str] | None:
        for job in (await jobs_by_id(store, ids)).values():
            if (
                job.status == JobStatus.RUNNING
                and job.worker_id in live
                and job.crashes == 0  # never kill a job twice: that is the poison test
                and job.id not in killed
            ):
                return job.id, job.worker_id
        return None

    # Keep two executors; whenever one holds a job that never crashed, kill -9 it and start a
    # replacement, until five jobs have lost their executor mid-run.
    while len(killed) < 5:
        job_id, worker_id = await wait_for(
            fresh_job_on_a_live_executor,
            120,
            "an executor holding a fresh job",
            interval=0.05,
            cluster=cluster,
        )
        await asyncio.sleep(0.2)  # let the engine get going
        live.pop(worker_id).kill9()
        killed.append(job_id)
        replacement = cluster.spawn(f"x-{len(cluster.procs)}")
        live[replacement.worker_id] = replacement

    done = await wait_for(lambda: all_finished(store, ids), 180, "all 7 jobs", cluster=cluster)

    assert len(set(killed)) == 5
    assert all(j.status == JobStatus.SUCCEEDED for j in done.values()), cluster.logs()
    for job_id, job in done.items():
        if job_id in killed:
            assert job.crashes == 1 and job.attempts >= 2, job
        else:
            assert job.crashes == 0, job
        assert job.result_sha
    # Only finishing writes the result; each job finished in exactly one process.
    assert count_lines(cluster, r"job (\d+) succeeded") == Counter(dict.fromkeys(ids, 1))


async def test_a_job_that_kills_two_executors_fails_as_internal_error(store, cluster, inputs):
    poison = await submit_poison(store, inputs)
    normal = (await submit_many(store, inputs, 1))[0]
    crash_env = POISON_ENV

    first = cluster.spawn("p1", **crash_env)
    assert await asyncio.to_thread(first.wait, 90) == 86, first.log()
    second = cluster.spawn("p2", **crash_env)
    assert await asyncio.to_thread(second.wait, 90) == 86, second.log()
    third = cluster.spawn("p3", **crash_env)

    done = await wait_for(
        lambda: all_finished(store, [poison.id, normal.id]), 90, "poison rule", cluster=cluster
    )
    bad, good = done[poison.id], done[normal.id]
    assert bad.status == JobStatus.FAILED and bad.crashes == 2, bad
    assert bad.error_code == "internal_error"
    assert bad.result_sha is None
    assert good.status == JobStatus.SUCCEEDED
    assert third.alive()  # the rule stopped the loop: the third executor survives


async def test_a_frozen_executor_that_wakes_up_cannot_overwrite_the_new_attempt(
    store, cluster, inputs
):
    # Long enough (seconds) that the frozen executor cannot finish before SIGSTOP lands.
    job = (await submit_many(store, inputs, 1, params=JobParams(size=96, preset="fast")))[0]
    frozen = cluster.spawn("frozen")
    await wait_for(
        lambda: running_on(store, job.id, "frozen", min_step=1), 60, "the claim", cluster=cluster
    )
    frozen.proc.send_signal(signal.SIGSTOP)  # hung: no heartbeats, but not dead
    try:
        cluster.spawn("rescuer")
        await wait_for(
            lambda: running_on(store, job.id, "rescuer"), 60, "the rescue", cluster=cluster
        )
    finally:
        frozen.proc.send_signal(signal.SIGCONT)
    done = await wait_for(lambda: all_finished(store, [job.id]), 60, "the job", cluster=cluster)
    final = done[job.id]
    assert final.status == JobStatus.SUCCEEDED and final.worker_id == "rescuer", final
    assert final.crashes == 1 and final.attempts == 2

    # The woken executor notices it lost the job and drops its work instead of writing it.
    await wait_for(
        lambda: _log_has(frozen, "no longer ours"), 30, "the zombie to notice", cluster=cluster
    )
    effective = [
        line
        for line in cluster.logs().splitlines()
        if f"job {job.id} succeeded" in line and "result dropped" not in line
    ]
    assert len(effective) == 1 and " rescuer " in effective[0], effective
    assert frozen.alive()


async def test_preview_then_cancel_stops_the_job_and_the_executor_carries_on(
    store, cluster, inputs
):
    long_job, ex = await long_job_running(store, cluster, inputs, "canceller")

    async def preview():
        job = await store.get_job(long_job.id)
        return job.preview_sha if job and job.status == JobStatus.RUNNING else None

    sha = await wait_for(preview, 60, "a preview of the running job", cluster=cluster)
    image = await store.get_image(sha)
    assert image is not None and image.data[:3] == b"\xff\xd8\xff"  # a small JPEG
    assert Image.open(io.BytesIO(image.data)).size == (image.width, image.height)
    assert 0 < max(image.width, image.height) <= 320

    await store.request_cancel(long_job.id, long_job.owner_id)
    job = await wait_for(
        lambda: _finished(store, long_job.id), 15, "the cancel to land", cluster=cluster
    )
    assert job.status == JobStatus.CANCELLED and job.result_sha is None
    assert job.preview_sha is None  # the store drops the preview of a finished job

    after = (await submit_many(store, inputs, 1))[0]
    done = await wait_for(lambda: all_finished(store, [after.id]), 60, "next job", cluster=cluster)
    assert done[after.id].status == JobStatus.SUCCEEDED and done[after.id].worker_id == "canceller"
    assert ex.alive()


async def test_sigterm_requeues_the_running_job_and_exits_0(store, cluster, inputs):
    long_job, ex = await long_job_running(store, cluster, inputs, "terminated")
    ex.term()
    assert await asyncio.to_thread(ex.wait, 30) == 0, ex.log()
    job = await store.get_job(long_job.id)
    assert job is not None
    # Either it was nearly done and finished, or it went back to the queue unharmed.
    assert job.status in (JobStatus.QUEUED, JobStatus.SUCCEEDED), job
    assert job.crashes == 0 and job.attempts == 1
    if job.status == JobStatus.QUEUED:
        assert job.worker_id is None or job.worker_id == "terminated"
    assert "terminated" not in [w.id for w in await store.workers()]


async def test_sigterm_when_idle_exits_0(store, cluster):
    ex = cluster.spawn("idle")
    await wait_for(
        lambda: _worker_seen(store, "idle"), 60, "the executor to register", cluster=cluster
    )
    await wait_for(lambda: _log_has(ex, "ready on"), 60, "warm-up", cluster=cluster)
    ex.term()
    assert await asyncio.to_thread(ex.wait, 15) == 0, ex.log()


async def test_executor_exits_when_its_supervisor_is_gone(store, cluster):
    # Started by a supervisor that no longer exists (say it was kill -9'd): the orphan must
    # stop instead of running forever next to the executors of the next `nst-bot run`.
    ex = cluster.spawn("orphan", NST_EXECUTOR_PARENT_PID="1")
    assert await asyncio.to_thread(ex.wait, 60) == 0, ex.log()
    assert "is gone; shutting down" in ex.log()
    assert "orphan" not in [w.id for w in await store.workers()]


async def test_missing_schema_fails_clearly(tmp_path: Path):
    empty = Cluster(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", tmp_path)
    ex = empty.spawn("no-schema")
    code = await asyncio.to_thread(ex.wait, 60)
    assert code == 2
    assert "nst-bot migrate" in ex.log()


async def _finished(store: Store, job_id: int):
    job = await store.get_job(job_id)
    return job if job is not None and job.finished else None


async def _worker_seen(store: Store, worker_id: str) -> bool:
    return worker_id in [w.id for w in await store.workers()]


async def _log_has(ex, text: str) -> bool:
    return text in ex.log()


@pytest.fixture(autouse=True)
def _no_token(monkeypatch):
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
