"""Executor benchmarks with real engine work (`python -m bot.executor.bench --section ...`).

- `previews`: claim → first preview, and the gaps between previews, of real `standard` jobs
  (512 px by default) on one executor using every core; each job is cancelled once a few
  previews have arrived, so the section costs seconds per job, not a whole job.
- `hosts`: jobs per hour for a queue of jobs with one executor using every core versus one
  single-threaded executor per core, each on its own fresh database; prints the winner,
  which is the default of `EXECUTORS` / `ENGINE_THREADS`.

Times come from the job rows (claim, finish) and from polling the rows for a new preview
every 50 ms, so they are what a user watching the job would see.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from bot.store import ImageBlob, Job, JobParams, JobStatus, Store, migrate
from nst_engine.bench import _images_dir
from nst_engine.precision import describe_cpu

POLL_S = 0.05
READY_TIMEOUT_S = 300.0
PAIR = ("tubingen", "starry_night")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the engine-backed sections."""
    parser.add_argument("--preview-jobs", type=int, default=3, help="preview: jobs to time")
    parser.add_argument("--previews", type=int, default=4, help="preview: previews per job")
    parser.add_argument("--size", type=int, default=512, help="preview: job size (px)")
    parser.add_argument("--preset", default="standard", help="preview/hosts: job preset")
    parser.add_argument("--queue", type=int, default=8, help="hosts: jobs in the queue")
    parser.add_argument("--hosts-size", type=int, default=512, help="hosts: job size (px)")
    parser.add_argument("--images", default=None, help="folder with the reference images")


def cpu_line() -> str:
    """This host's CPU (`precision.describe_cpu`) and its load average."""
    return f"CPU: {describe_cpu()}; load average {os.getloadavg()[0]:.1f}"


def _blob(path: Path) -> ImageBlob:
    with Image.open(path) as img:
        width, height = img.size
        fmt = (img.format or "jpeg").lower()
    return ImageBlob(path.read_bytes(), fmt, width, height)


def _pair(images: str | None) -> tuple[ImageBlob, ImageBlob]:
    folder = _images_dir(images)
    return _blob(folder / f"{PAIR[0]}.jpg"), _blob(folder / f"{PAIR[1]}.jpg")


async def start_executors(
    url: str, workdir: Path, count: int, threads: int, name: str
) -> list[asyncio.subprocess.Process]:
    """Start `count` executors of `threads` engine threads each; returns once all are ready."""
    env = dict(
        os.environ,
        DATABASE_URL=url,
        ENGINE_THREADS=str(threads),
        OMP_NUM_THREADS=str(threads),
        LOG_LEVEL="INFO",
    )
    env.pop("DISCORD_TOKEN", None)
    procs, logs = [], []
    for k in range(count):
        log_path = workdir / f"{name}-{k}.log"
        logs.append(log_path)
        with log_path.open("wb") as log:
            procs.append(
                await asyncio.create_subprocess_exec(
                    *[sys.executable, "-m", "bot.cli", "executor", "--worker-id", f"{name}-{k}"],
                    env=env,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    cwd=workdir,
                )
            )
    deadline = time.monotonic() + READY_TIMEOUT_S
    # Ready = the VGG weights are loaded (its log line), so start-up is not timed as work.
    while not all(b" ready on " in p.read_bytes() for p in logs):
        if time.monotonic() > deadline or any(p.returncode is not None for p in procs):
            await stop_executors(procs)
            raise SystemExit(f"bench: executors did not start; see {workdir}/{name}-*.log")
        await asyncio.sleep(0.2)
    return procs


async def stop_executors(procs: Sequence[asyncio.subprocess.Process]) -> None:
    """SIGTERM every executor, then wait for them (a second signal stops a running job)."""
    for proc in procs:
        if proc.returncode is None:
            proc.terminate()
            proc.terminate()
    for proc in procs:
        await asyncio.wait_for(proc.wait(), 60)


async def _until_finished(store: Store, ids: Sequence[int], poll_s: float) -> list[Job]:
    """The jobs `ids` once every one of them has finished (polled every `poll_s`)."""
    while True:
        jobs = [await store.get_job(i) for i in ids]
        done = [j for j in jobs if j is not None and j.finished]
        if len(done) == len(ids):
            return done
        await asyncio.sleep(poll_s)


async def _watch_previews(store: Store, job_id: int, wanted: int) -> tuple[float, list[float]]:
    """Seconds from claim to the first preview, and between the next ones (up to `wanted`)."""
    seen: list[datetime] = []
    preview, started = None, None
    while len(seen) < wanted:
        job = await store.get_job(job_id)
        assert job is not None
        if job.finished:
            break
        if job.preview_sha is not None and job.preview_sha != preview:
            preview = job.preview_sha
            seen.append(datetime.now(UTC))
        started = job.started_at or started
        await asyncio.sleep(POLL_S)
    if not seen or started is None:
        raise SystemExit(f"bench: job {job_id} finished before its first preview")
    first = (seen[0] - started).total_seconds()
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(seen)]
    return first, gaps


async def previews(url: str, workdir: Path, args: argparse.Namespace) -> str:
    """Claim → first preview p50/max and preview gaps of `args.preview_jobs` real jobs."""
    content, style = _pair(args.images)
    threads = os.cpu_count() or 1
    procs = await start_executors(url, workdir, 1, threads, "preview")
    store = await Store.open(url, per_user_queue_limit=1000, global_queue_limit=100_000)
    firsts: list[float] = []
    gaps: list[float] = []
    try:
        for _ in range(args.preview_jobs):
            params = JobParams(size=args.size, preset=args.preset)
            job = await store.submit(1, None, None, content, [(style, 1.0)], params)
            first, job_gaps = await _watch_previews(store, job.id, args.previews)
            firsts.append(first)
            gaps += job_gaps
            await store.request_cancel(job.id, 1)
            await _until_finished(store, [job.id], POLL_S)
    finally:
        await store.close()
        await stop_executors(procs)
    lines = [
        f"previews of {len(firsts)} {args.size} px `{args.preset}` jobs, one executor of "
        f"{threads} threads:",
        f"  claim → first preview   p50 {statistics.median(firsts):5.1f} s   "
        f"max {max(firsts):5.1f} s",
    ]
    if gaps:
        lines.append(
            f"  between previews       p50 {statistics.median(gaps):5.1f} s   "
            f"max {max(gaps):5.1f} s"
        )
    return "\n".join(lines)


async def _drain(workdir: Path, args: argparse.Namespace, count: int, threads: int) -> float:
    """Seconds for `count` executors of `threads` threads to finish a queue of jobs."""
    url = f"sqlite+aiosqlite:///{workdir / f'hosts-{count}x{threads}.db'}"
    migrate(url)
    content, style = _pair(args.images)
    procs = await start_executors(url, workdir, count, threads, f"hosts{count}x{threads}")
    store = await Store.open(url, per_user_queue_limit=1000, global_queue_limit=100_000)
    try:
        params = JobParams(size=args.hosts_size, preset=args.preset)
        t0 = time.monotonic()
        # Distinct owners: the fair claim would otherwise interleave nothing differently,
        # but one owner per job keeps per-user limits out of the picture.
        ids = [
            (await store.submit(1 + k, None, None, content, [(style, 1.0)], params)).id
            for k in range(args.queue)
        ]
        jobs = await _until_finished(store, ids, 0.5)
        wall = time.monotonic() - t0
        bad = [j.id for j in jobs if j.status != JobStatus.SUCCEEDED]
        if bad:
            raise SystemExit(f"bench: jobs {bad} did not succeed; see {workdir}/hosts*.log")
        return wall
    finally:
        await store.close()
        await stop_executors(procs)


async def hosts(workdir: Path, args: argparse.Namespace) -> str:
    """Jobs per hour: one executor of every core vs one single-threaded executor per core."""
    cores = os.cpu_count() or 1
    configs = [(1, cores), (cores, 1)]
    walls = {cfg: await _drain(workdir, args, *cfg) for cfg in configs}
    lines = [
        f"queue of {args.queue} {args.hosts_size} px `{args.preset}` jobs on {cores} cores:",
    ]
    for (count, threads), wall in walls.items():
        lines.append(
            f"  EXECUTORS={count} ENGINE_THREADS={threads}: {wall:6.0f} s, "
            f"{args.queue * 3600 / wall:5.1f} jobs/hour"
        )
    (count, threads), best = min(walls.items(), key=lambda kv: kv[1])
    worst = max(walls.values())
    lines.append(
        f"  winner: EXECUTORS={count} ENGINE_THREADS={threads} ({worst / best:.2f}× the other)"
    )
    return "\n".join(lines)
