"""`make bench-queue`: how fast the job store hands work to executors.

Measures, on a real database with claimers in separate OS processes (like real executors):
  * submit→claim latency (p50/p99/max) while one idle claimer polls, one job at a time;
  * submits/s from one bot process;
  * jobs/s the store sustains with K claimers doing claim → complete as fast as they can.
Prints a markdown report. SQLite in a temporary folder by default; `--db URL` for PostgreSQL
(use an empty database: the benchmark adds and leaves rows).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bot.store.migrate import migrate
from bot.store.models import JobRow
from bot.store.store import Store
from bot.store.types import ImageBlob, JobParams, JobStatus

PARAMS = JobParams(size=64, preset="fast")
STYLE = ImageBlob(data=b"bench-style" * 100, fmt="png", width=64, height=64)


def _content(n: int) -> ImageBlob:
    # Distinct bytes per job, like real uploads (exercises the image dedup path).
    return ImageBlob(
        data=f"bench-content-{n}-{time.time_ns()}".encode() * 50, fmt="png", width=64, height=64
    )


async def _claimer(url: str, worker_id: str, poll_s: float, idle_exit_s: float) -> None:
    """Claim and immediately complete jobs; exit after `idle_exit_s` without work."""
    store = await Store.open(url)
    try:
        last_work = time.monotonic()
        while time.monotonic() - last_work < idle_exit_s:
            claimed = await store.claim(worker_id)
            if claimed is None:
                await asyncio.sleep(poll_s)
                continue
            await store.complete(claimed.job.id, worker_id, b"bench-result", 64, 64, 0.001)
            last_work = time.monotonic()
    finally:
        await store.close()


def _spawn(url: str, worker_id: str, poll_s: float, idle_exit_s: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.store.bench",
            "--claimer",
            worker_id,
            "--db",
            url,
            "--poll-s",
            str(poll_s),
            "--idle-exit-s",
            str(idle_exit_s),
        ],
    )


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _latency(store: Store, samples: int) -> list[float]:
    """Submit one job at a time to the idle claimer; latency from the stored timestamps."""
    latencies = []
    for n in range(samples):
        job = await store.submit(n % 50, None, None, _content(n), [(STYLE, 1.0)], PARAMS)
        while True:
            current = await store.get_job(job.id)
            assert current is not None
            if current.status is not JobStatus.QUEUED:
                break
            await asyncio.sleep(0.005)
        assert current.started_at is not None
        latencies.append((current.started_at - current.created_at).total_seconds() * 1000)
        await asyncio.sleep(random.uniform(0.0, 0.05))  # don't phase-lock with the poll
    return latencies


async def _throughput(
    store: Store, url: str, jobs: int, claimers: int, poll_s: float
) -> tuple[float, float]:
    """(submits/s from one process, jobs/s claimed+completed by `claimers` processes)."""
    start = time.perf_counter()
    first_id = None
    for n in range(jobs):
        job = await store.submit(n % 97, None, None, _content(n), [(STYLE, 1.0)], PARAMS)
        first_id = first_id or job.id
    submit_rate = jobs / (time.perf_counter() - start)
    procs = [_spawn(url, f"bench-t{i}", poll_s, 1.0) for i in range(claimers)]
    try:
        while True:
            async with store.read() as conn:
                left = await conn.scalar(
                    select(func.count()).where(
                        JobRow.id >= first_id, JobRow.status != JobStatus.SUCCEEDED.value
                    )
                )
            if left == 0:
                break
            await asyncio.sleep(0.2)
        async with store.read() as conn:
            first, last = (
                await conn.execute(
                    select(func.min(JobRow.started_at), func.max(JobRow.finished_at)).where(
                        JobRow.id >= first_id
                    )
                )
            ).one()
    finally:
        for p in procs:
            p.wait(timeout=60)
    if first is None or last is None:
        raise RuntimeError("no job of this run started and finished")
    return submit_rate, jobs / max((last - first).total_seconds(), 1e-9)


async def run(url: str, samples: int, jobs: int, claimers: int, poll_s: float) -> str:
    await asyncio.to_thread(migrate, url)
    store = await Store.open(url, per_user_queue_limit=10_000, global_queue_limit=1_000_000)
    try:
        idle = _spawn(url, "bench-idle", poll_s, idle_exit_s=5.0)
        await asyncio.sleep(2.0)  # let it start and settle into idle polling
        try:
            latencies = await _latency(store, samples)
        finally:
            idle.wait(timeout=60)
        submit_rate, claim_rate = await _throughput(store, url, jobs, claimers, poll_s)
    finally:
        await store.close()
    backend = "PostgreSQL" if store.dialect == "postgresql" else "SQLite (WAL)"
    return "\n".join(
        [
            "## Job store (`make bench-queue`)",
            "",
            f"{backend}; claimers are separate processes polling every {poll_s * 1000:.0f} ms; "
            f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}.",
            "",
            "| measure | value |",
            "|---|---|",
            f"| submit→claim latency p50 (idle claimer, n={samples}) | "
            f"{statistics.median(latencies):.1f} ms |",
            f"| submit→claim latency p99 | {_pct(latencies, 0.99):.1f} ms |",
            f"| submit→claim latency max | {max(latencies):.1f} ms |",
            f"| submits/s (one process, {jobs} jobs) | {submit_rate:.0f} |",
            f"| jobs/s claimed+completed ({claimers} claimer processes) | {claim_rate:.0f} |",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--samples", type=int, default=200, help="latency samples")
    parser.add_argument("--jobs", type=int, default=500, help="jobs for the throughput run")
    parser.add_argument("--claimers", type=int, default=2, help="claimer processes")
    parser.add_argument("--poll-s", type=float, default=0.1, help="idle poll interval")
    parser.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    parser.add_argument("--claimer", help=argparse.SUPPRESS)  # internal: run as a claimer
    parser.add_argument("--idle-exit-s", type=float, default=5.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.claimer:
        asyncio.run(_claimer(args.db, args.claimer, args.poll_s, args.idle_exit_s))
        return 0
    if args.quick:
        args.samples, args.jobs = 10, 40
    with tempfile.TemporaryDirectory(prefix="nst-bench-") as tmp:
        url = args.db or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        print(asyncio.run(run(url, args.samples, args.jobs, args.claimers, args.poll_s)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
