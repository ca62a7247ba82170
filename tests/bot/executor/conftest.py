"""Real executor processes against a real database, for the executor's process tests."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.store import ImageBlob, Job, JobParams, Store

# Fast settings for every spawned executor: one CPU thread each (the CI box has two cores),
# quick heartbeats so a killed executor's job goes stale in about two seconds.
EXECUTOR_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "DEVICE": "cpu",
    "HEARTBEAT_INTERVAL_S": "0.3",
    "STALE_AFTER_S": "2",
    "LOG_LEVEL": "INFO",
}
TINY = JobParams(size=64, preset="fast")


def executor_env(url: str, **extra: str) -> dict[str, str]:
    """Environment for a spawned executor: the test database and the fast settings above."""
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    env.update(EXECUTOR_ENV)
    env["DATABASE_URL"] = url
    env.update(extra)
    return env


@dataclass
class ExecutorProc:
    """One `nst-bot executor` OS process with its output in a log file."""

    worker_id: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def term(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout)

    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class Cluster:
    """Spawns executors for one database and cleans them up after the test."""

    url: str
    workdir: Path
    procs: list[ExecutorProc] = field(default_factory=list)

    def spawn(self, worker_id: str, *, once: bool = False, **env: str) -> ExecutorProc:
        log_path = self.workdir / f"{worker_id}.{len(self.procs)}.log"
        argv = [sys.executable, "-m", "bot.cli", "executor", "--worker-id", worker_id]
        if once:
            argv.append("--once")
        with log_path.open("wb") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=executor_env(self.url, **env),
                cwd=self.workdir,  # keep the repo's .env out of the child's settings
            )
        executor = ExecutorProc(worker_id, proc, log_path)
        self.procs.append(executor)
        return executor

    def logs(self) -> str:
        return "\n".join(f"--- {p.log_path.name}\n{p.log()}" for p in self.procs)

    def stop_all(self) -> None:
        for p in self.procs:
            if p.alive():
                p.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for p in self.procs:
            try:
                p.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.proc.kill()
                p.proc.wait()


def tiny_blob(path: Path, side: int = 64) -> ImageBlob:
    """A fixture image shrunk to `side` px, as the bot would hand it to the store."""
    img = Image.open(path).convert("RGB")
    img.thumbnail((side, side))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return ImageBlob(buf.getvalue(), "png", img.width, img.height)


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[Store]:
    s = await Store.open(sqlite_url, per_user_queue_limit=1000, global_queue_limit=10_000)
    yield s
    await s.close()


@pytest.fixture
def cluster(sqlite_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    c = Cluster(sqlite_url, tmp_path)
    yield c
    c.stop_all()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(c.logs())


@pytest.fixture
def inputs(fixture_images: Path) -> dict[str, ImageBlob]:
    return {
        name: tiny_blob(fixture_images / f"{name}.jpg")
        for name in ("tubingen", "starry_night", "the_scream", "golden_gate")
    }


# A job whose seed makes `bot.executor.testhooks` kill the executor that runs it.
POISON_SEED = 424242
POISON_ENV = {"NST_TEST_CRASH_SEED": str(POISON_SEED)}


async def submit_poison(store: Store, inputs: dict[str, ImageBlob]) -> Job:
    """Queue the job that kills every executor started with POISON_ENV."""
    return await store.submit(
        5,
        None,
        None,
        inputs["tubingen"],
        [(inputs["starry_night"], 1.0)],
        JobParams(size=64, preset="fast", seed=POISON_SEED),
    )


async def submit_many(
    store: Store,
    inputs: dict[str, ImageBlob],
    count: int,
    *,
    users: int = 1,
    first_user: int = 1001,
    params: JobParams = TINY,
) -> list[Job]:
    """`count` tiny jobs, owners round-robin over `users` users (`first_user`, +1, …)."""
    style_names = ["starry_night", "the_scream", "golden_gate"]
    jobs = []
    for i in range(count):
        jobs.append(
            await store.submit(
                first_user + i % users,
                None,
                None,
                inputs["tubingen"],
                [(inputs[style_names[i % len(style_names)]], 1.0)],
                params,
            )
        )
    return jobs


async def wait_for(
    predicate: Callable[[], Awaitable[Any]],
    within_s: float,
    what: str,
    *,
    interval: float = 0.1,
    cluster: Cluster | None = None,
) -> Any:
    """Poll an async predicate until it returns something truthy; fail with logs on timeout."""
    deadline = time.monotonic() + within_s
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            logs = cluster.logs() if cluster else ""
            pytest.fail(f"timed out after {within_s:.0f} s waiting for {what}\n{logs}")
        await asyncio.sleep(interval)


async def jobs_by_id(store: Store, ids: list[int]) -> dict[int, Job]:
    result = {}
    for job_id in ids:
        job = await store.get_job(job_id)
        assert job is not None
        result[job_id] = job
    return result


async def all_finished(store: Store, ids: list[int]) -> dict[int, Job] | None:
    jobs = await jobs_by_id(store, ids)
    return jobs if all(j.finished for j in jobs.values()) else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
