"""Orderly shutdowns, whole-service crashes and duplicate worker ids, with real processes:
only a job whose own executor died while the rest of its host lived counts a crash."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from bot.executor.supervisor import Supervisor
from bot.settings import Settings
from bot.store import JobParams, JobStatus, Store
from tests.bot.executor.conftest import (
    POISON_ENV,
    all_finished,
    executor_env,
    submit_many,
    submit_poison,
    wait_for,
)
from tests.bot.executor.test_worker import running_on

ROOT = Path(__file__).resolve().parents[3]
# Long enough (seconds) to be caught mid-way, short enough to run three attempts.
MEDIUM = JobParams(size=128, preset="fast")


def _settings(url: str, **changes: object) -> Settings:
    # No finishing grace: a shutdown always stops the job at a step boundary and requeues it.
    values: dict = {
        "device": "cpu",
        "heartbeat_interval_s": 0.3,
        "stale_after_s": 2.0,
        "executor_finish_grace_s": 0.0,
    }
    values.update(changes)
    return Settings(_env_file=None, database_url=url, **values)


def _supervisor(url: str, log: Path, **kwargs: object) -> Supervisor:
    return Supervisor(_settings(url), 1, host="box", env=executor_env(url), output=log, **kwargs)  # type: ignore[arg-type]


async def _status(store: Store, job_id: int):
    job = await store.get_job(job_id)
    assert job is not None
    return job


async def test_two_deploys_during_a_long_job_requeue_it_without_a_crash(
    sqlite_url, store, inputs, tmp_path: Path
):
    log = tmp_path / "executors.log"
    job = (await submit_many(store, inputs, 1, params=MEDIUM))[0]

    # Deploy 1: an orderly stop; the executor stops at a step boundary and requeues the job.
    first = _supervisor(sqlite_url, log)
    await first.start()
    await wait_for(lambda: running_on(store, job.id, "box-1", min_step=1), 120, "attempt 1")
    await first.stop()
    after = await _status(store, job.id)
    assert (after.status, after.crashes) == (JobStatus.QUEUED, 0), log.read_text()
    assert first._slots[0].history == [0]

    # Deploy 2: this time the executor cannot reach a step boundary in time (frozen, like one
    # 1024 px step on a CPU outlasting the grace period): killed, and still no crash.
    second = _supervisor(sqlite_url, log, grace_s=1.0)
    await second.start()
    await wait_for(lambda: running_on(store, job.id, "box-1", min_step=1), 120, "attempt 2")
    pid = second.pids()[0]
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    await second.stop()
    assert second._slots[0].history == [-signal.SIGKILL]
    after = await _status(store, job.id)
    assert (after.status, after.crashes) == (JobStatus.QUEUED, 0), log.read_text()

    third = _supervisor(sqlite_url, log)
    await third.start()
    try:
        done = await wait_for(lambda: all_finished(store, [job.id]), 300, "the job")
    finally:
        await third.stop()
    final = done[job.id]
    assert final.status == JobStatus.SUCCEEDED, log.read_text()
    assert final.crashes == 0 and final.attempts == 3


def _spawn_supervisor(url: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.bot.executor.supervised", "1"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**executor_env(url), "PYTHONPATH": str(ROOT)},
            cwd=log.parent,
        )


async def _kill_service(store: Store, supervisor: subprocess.Popen[bytes]) -> None:
    """SIGKILL the supervisor and its executor together (a host losing power, OOM-killed
    service): stopped first, so neither can see the other die."""
    [row] = [w for w in await store.workers() if w.id == "box-1"]
    assert row.pid is not None
    os.kill(supervisor.pid, signal.SIGSTOP)
    os.kill(row.pid, signal.SIGKILL)
    supervisor.kill()
    supervisor.wait(10)


async def _attempt_running(store: Store, job_id: int, attempt: int) -> bool:
    job = await _status(store, job_id)
    return job.attempts == attempt and await running_on(store, job_id, "box-1", min_step=1)


async def test_a_whole_service_crash_requeues_without_a_crash(
    sqlite_url, store, inputs, tmp_path: Path
):
    log = tmp_path / "service.log"
    job = (await submit_many(store, inputs, 1, params=MEDIUM))[0]
    services: list[subprocess.Popen[bytes]] = []
    try:
        for attempt in (1, 2):
            services.append(_spawn_supervisor(sqlite_url, log))
            await wait_for(
                lambda n=attempt: _attempt_running(store, job.id, n), 120, f"attempt {attempt}"
            )
            await _kill_service(store, services[-1])
            if attempt == 1:
                continue  # the next service run finds the job its predecessor left running
            # Nothing restarts this time: another host's sweep finds the silent job.
            await asyncio.sleep(2.5)
            actions = await store.requeue_stale(2.0, max_crashes=2)
            assert [(a.job_id, a.action, a.crashed) for a in actions] == [
                (job.id, "requeued", False)
            ], log.read_text()
        after = await _status(store, job.id)
        assert (after.status, after.crashes) == (JobStatus.QUEUED, 0), log.read_text()

        services.append(_spawn_supervisor(sqlite_url, log))
        done = await wait_for(lambda: all_finished(store, [job.id]), 300, "the job")
    finally:
        for proc in services:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(60)
    final = done[job.id]
    assert final.status == JobStatus.SUCCEEDED and final.crashes == 0, log.read_text()
    assert final.attempts == 3


async def test_a_job_that_kills_its_executor_under_a_live_supervisor_still_counts(
    sqlite_url, store, inputs, tmp_path: Path
):
    log = tmp_path / "executors.log"
    poison = await submit_poison(store, inputs)
    sup = Supervisor(
        _settings(sqlite_url),
        1,
        host="box",
        env=executor_env(sqlite_url, **POISON_ENV),
        output=log,
        backoff_base_s=0.2,
    )
    await sup.start()
    try:
        done = await wait_for(lambda: all_finished(store, [poison.id]), 120, "the poison rule")
        normal = (await submit_many(store, inputs, 1))[0]
        after = await wait_for(lambda: all_finished(store, [normal.id]), 120, "a normal job")
    finally:
        await sup.stop()
    bad = done[poison.id]
    assert bad.status == JobStatus.FAILED and bad.error_code == "internal_error", log.read_text()
    assert bad.crashes == 2
    assert sup._slots[0].history[:2] == [86, 86]  # both crashes seen by the supervisor
    assert after[normal.id].status == JobStatus.SUCCEEDED  # the pool carries on


async def test_a_second_executor_with_a_live_worker_id_is_refused(store, cluster):
    first = cluster.spawn("dup")

    async def registered() -> bool:
        return "ready on" in first.log()

    await wait_for(registered, 90, "the first executor", cluster=cluster)
    second = cluster.spawn("dup")
    assert await asyncio.to_thread(second.wait, 90) == 2, second.log()
    assert "already used by a live executor" in second.log()
    assert "--worker-id" in second.log()
    assert first.alive()
    [row] = [w for w in await store.workers() if w.id == "dup"]
    assert row.pid == first.pid  # the refused one did not take the row over
