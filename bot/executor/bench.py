"""Executor benchmarks on real `nst-bot executor` processes and a fresh SQLite file.

    python -m bot.executor.bench [--section latency|preview|hosts ...] [--jobs 20] [--db URL]

- latency (default): idle pickup (submit → claim) and cancel (request → stopped), on tiny
  jobs submitted one at a time to an idle executor.
- preview (default): claim → first preview, and the gaps between previews, of real 512 px
  `standard` jobs (`bot.executor.engine_bench`; each job is cancelled after a few previews).
- hosts: jobs per hour for a queue of jobs with one executor using every core versus one
  single-threaded executor per core (`bot.executor.engine_bench`; minutes).

Timestamps come from the database rows, so the figures are what a user would see.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from bot.store import ImageBlob, Job, JobParams, JobStatus, Store, migrate


def _blob(color: tuple[int, int, int]) -> ImageBlob:
    img = Image.new("RGB", (64, 48), color)
    for x in range(0, 64, 8):  # some structure, so the engine has gradients to follow
        img.paste((255 - color[0], color[1], 255 - color[2]), (x, 0, x + 4, 48))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return ImageBlob(buf.getvalue(), "png", 64, 48)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _poll(store: Store, job_id: int, done: Callable[[Job], bool]) -> Job:
    while True:
        job = await store.get_job(job_id)
        assert job is not None
        if done(job):
            return job
        await asyncio.sleep(0.01)


async def run(url: str, jobs: int, workdir: Path) -> dict[str, float]:
    """Run the benchmark against `url` (already migrated); returns the figures in ms."""
    env = dict(os.environ, DATABASE_URL=url, OMP_NUM_THREADS="1", LOG_LEVEL="WARNING")
    env.pop("DISCORD_TOKEN", None)
    log = (workdir / "bench-executor.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "bot.cli", "executor", "--worker-id", "bench"],
        env=env,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
        cwd=workdir,
    )
    store = await Store.open(url, per_user_queue_limit=1000, global_queue_limit=100_000)
    pickup, cancel = [], []
    try:
        content, style = _blob((30, 90, 200)), _blob((220, 180, 20))
        # Warm-up job: the executor is ready once it has claimed something.
        for i in range(jobs + 1):
            await asyncio.sleep(0.05 + (i % 7) * 0.02)  # land at different poll phases
            job = await store.submit(
                1, None, None, content, [(style, 1.0)], JobParams(size=64, preset="high")
            )
            claimed = await asyncio.wait_for(
                _poll(store, job.id, lambda j: j.status != JobStatus.QUEUED), 120
            )
            asked = datetime.now(UTC)
            await store.request_cancel(job.id, 1)
            stopped = await asyncio.wait_for(_poll(store, job.id, lambda j: j.finished), 60)
            if i == 0:
                continue
            assert claimed.started_at is not None and stopped.finished_at is not None
            pickup.append((claimed.started_at - job.created_at).total_seconds() * 1000)
            cancel.append((stopped.finished_at - asked).total_seconds() * 1000)
    finally:
        await store.close()
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
        log.close()
    return {
        "pickup_p50_ms": statistics.median(pickup),
        "pickup_p99_ms": _pct(pickup, 0.99),
        "pickup_max_ms": max(pickup),
        "cancel_p50_ms": statistics.median(cancel),
        "cancel_max_ms": max(cancel),
    }


SECTIONS = ("latency", "preview", "hosts")


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections and print their figures."""
    from bot.executor import engine_bench

    parser = argparse.ArgumentParser(
        prog="python -m bot.executor.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--section", action="append", choices=SECTIONS)
    parser.add_argument("--jobs", type=int, default=20, help="latency: jobs to time")
    parser.add_argument("--db", help="database URL (default: a fresh temporary SQLite file)")
    engine_bench.add_arguments(parser)
    args = parser.parse_args(argv)
    sections = args.section or ["latency", "preview"]
    print(engine_bench.cpu_line())
    with tempfile.TemporaryDirectory(prefix="nst-exec-bench-") as tmp:
        url = args.db or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        if "latency" in sections:
            started = time.monotonic()
            figures = asyncio.run(run(url, args.jobs, Path(tmp)))
            print(f"executor latency over {args.jobs} jobs ({time.monotonic() - started:.0f} s):")
            for name, value in figures.items():
                print(f"  {name:15s} {value:8.1f}")
        if "preview" in sections:
            print(asyncio.run(engine_bench.previews(url, Path(tmp), args)))
        if "hosts" in sections:
            print(asyncio.run(engine_bench.hosts(Path(tmp), args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
