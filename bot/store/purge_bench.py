"""`make bench-queue` (purge part): a large purge while a real executor runs a job.

    python -m bot.store.purge_bench [--jobs 50000] [--db URL]

Seeds a fresh SQLite file (or an empty database) with `--jobs` jobs finished 40 days ago,
each with its own content and result image (2 × jobs images, small bytes), starts one real
`nst-bot executor` process, gives it a real engine job (a new one whenever the last finished,
so a job is always running), and runs `purge(30)` in this process meanwhile. Prints the
longest write-lock hold of one purge transaction, the longest gap between the executor's
heartbeats (from the `workers` row, read every 20 ms), the purge's total time, and whether
any job was requeued as stale (there must be none).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import struct
import sys
import tempfile
import time
import zlib
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from bot.store.db import sha256
from bot.store.migrate import migrate
from bot.store.models import Image, JobRow, JobStyle, WorkerRow
from bot.store.store import Store
from bot.store.types import ImageBlob, JobParams, JobStatus

WORKER = "purge-bench"
HEARTBEAT_S = 0.5
SEED_CHUNK = 2000
# A real job for the executor: small, but long enough that a few cover the purge.
LIVE_PARAMS = JobParams(size=96, preset="high")


def _png(width: int, height: int, phase: int) -> bytes:
    """A striped RGB PNG written by hand (the store and its tools never import Pillow)."""
    rows = b"".join(
        b"\x00"
        + bytes(
            v
            for x in range(width)
            for v in ((x * 4 + phase) % 256, (y * 5) % 256, 255 if (x // 6 + y // 6) % 2 else 0)
        )
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _image(tag: str, when: datetime) -> dict[str, object]:
    data = tag.encode() * (256 // len(tag) + 1)  # small, distinct bytes
    sha = sha256(data)
    return {
        "sha": sha,
        "data": data,
        "fmt": "png",
        "width": 8,
        "height": 8,
        "size_bytes": len(data),
        "created_at": when,
    }


async def seed(store: Store, jobs: int, finished_at: datetime) -> None:
    """Insert `jobs` succeeded jobs (owners spread over 1000 users), one shared style image
    and, per job, a content and a result image of its own."""
    style = _image("shared-style", finished_at)
    async with store.write() as conn:
        await conn.execute(insert(Image), [style])
    for start in range(0, jobs, SEED_CHUNK):
        numbers = range(start, min(jobs, start + SEED_CHUNK))
        contents = [_image(f"content-{n}", finished_at) for n in numbers]
        results = [_image(f"result-{n}", finished_at) for n in numbers]
        rows = [
            {
                "owner_id": n % 1000 + 1,
                "guild_id": n % 50 + 1,
                "channel_id": 1,
                "status": JobStatus.SUCCEEDED.value,
                "content_sha": c["sha"],
                "content_source_id": n % 1000 + 1,
                "size": 256,
                "preset": "standard",
                "style_strength": 1.0,
                "preserve_colors": False,
                "init": "content",
                "private": False,
                "dm_on_done": False,
                "attempts": 1,
                "crashes": 0,
                "progress_scale": 0,
                "progress_scales": 0,
                "progress_step": 0,
                "progress_total": 0,
                "result_sha": r["sha"],
                "created_at": finished_at,
                "started_at": finished_at,
                "finished_at": finished_at,
                "updated_at": finished_at,
                "delivered_at": finished_at,
            }
            for n, c, r in zip(numbers, contents, results, strict=True)
        ]
        async with store.write() as conn:
            await conn.execute(insert(Image), contents + results)
            ids = list(await conn.scalars(insert(JobRow).returning(JobRow.id), rows))
            await conn.execute(
                insert(JobStyle),
                [
                    {"job_id": i, "position": 0, "image_sha": style["sha"], "weight": 1.0}
                    for i in ids
                ],
            )


class _Watch:
    """Reads the executor's heartbeat every 20 ms and keeps one engine job running."""

    def __init__(self, store: Store, content: ImageBlob, style: ImageBlob) -> None:
        self.store, self.content, self.style = store, content, style
        self.job_ids: list[int] = []
        self.longest_gap_s = 0.0
        self.stop = asyncio.Event()

    async def submit(self) -> int:
        job = await self.store.submit(1, None, None, self.content, [(self.style, 1.0)], LIVE_PARAMS)
        self.job_ids.append(job.id)
        return job.id

    async def run(self) -> None:
        last = None
        while not self.stop.is_set():
            async with self.store.read() as conn:
                beat = await conn.scalar(
                    select(WorkerRow.heartbeat_at).where(WorkerRow.id == WORKER)
                )
                status = await conn.scalar(
                    select(JobRow.status).where(JobRow.id == self.job_ids[-1])
                )
            if beat is not None and beat != last:
                if last is not None:
                    self.longest_gap_s = max(self.longest_gap_s, (beat - last).total_seconds())
                last = beat
            if status != JobStatus.RUNNING.value and status != JobStatus.QUEUED.value:
                await self.submit()  # the last one finished: keep the executor busy
            await asyncio.sleep(0.02)

    async def requeued(self) -> int:
        """Live jobs that were requeued as stale (crashes counted) or claimed twice."""
        async with self.store.read() as conn:
            requeued = await conn.scalar(
                select(func.count()).where(
                    JobRow.id.in_(self.job_ids), (JobRow.crashes > 0) | (JobRow.attempts > 1)
                )
            )
        return requeued or 0


async def _wait_running(store: Store, job_id: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = await store.get_job(job_id)
        if job is not None and job.status is JobStatus.RUNNING:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"the executor did not start job #{job_id} in {timeout_s:.0f} s")


async def run(url: str, jobs: int, workdir: Path) -> list[str]:
    """Seed, start the executor, purge while it works; returns the report lines."""
    store = await Store.open(url, per_user_queue_limit=10_000, global_queue_limit=1_000_000)
    log_path = workdir / "purge-bench-executor.log"
    try:
        started = time.perf_counter()
        await seed(store, jobs, store.clock() - timedelta(days=40))
        seeded_s = time.perf_counter() - started
        env = dict(
            os.environ,
            DATABASE_URL=url,
            DEVICE="cpu",
            ENGINE_THREADS="1",
            OMP_NUM_THREADS="1",
            HEARTBEAT_INTERVAL_S=str(HEARTBEAT_S),
            LOG_LEVEL="WARNING",
        )
        env.pop("DISCORD_TOKEN", None)
        with log_path.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                *[sys.executable, "-m", "bot.cli", "executor", "--worker-id", WORKER],
                env=env,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                cwd=workdir,  # keep the repository's .env out of its settings
            )
        content = ImageBlob(_png(96, 72, 0), "png", 96, 72)
        watch = _Watch(store, content, ImageBlob(_png(96, 72, 97), "png", 96, 72))
        try:
            await _wait_running(store, await watch.submit(), 180)
            watcher = asyncio.create_task(watch.run())
            await asyncio.sleep(2 * HEARTBEAT_S)  # a baseline of undisturbed heartbeats
            started = time.perf_counter()
            done = await store.purge(30)
            purge_s = time.perf_counter() - started
            await asyncio.sleep(2 * HEARTBEAT_S)
            watch.stop.set()
            await watcher
            requeued = await watch.requeued()
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 60)
    finally:
        await store.close()
    backend = "SQLite (WAL)" if store.is_sqlite else "PostgreSQL"
    return [
        f"## Purge under load ({backend}, {os.cpu_count()} CPUs)",
        "",
        f"{jobs} finished jobs / {2 * jobs + 1} images seeded in {seeded_s:.1f} s; one real "
        f"`nst-bot executor` (heartbeat every {HEARTBEAT_S} s) running "
        f"{len(watch.job_ids)} engine job(s) ({LIVE_PARAMS.size} px, {LIVE_PARAMS.preset}) "
        "during the purge.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| deleted | {done.jobs} jobs, {done.images} images |",
        f"| purge transactions | {done.batches} |",
        f"| longest lock hold (one transaction) | {done.longest_hold_s * 1000:.1f} ms |",
        f"| total lock hold (= one big transaction) | {done.total_hold_s:.2f} s |",
        f"| purge wall time | {purge_s:.1f} s |",
        f"| longest heartbeat gap (interval {HEARTBEAT_S} s) | {watch.longest_gap_s:.2f} s |",
        f"| live jobs requeued as stale | {requeued} |",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.store.purge_bench", description=__doc__)
    parser.add_argument("--jobs", type=int, default=50_000, help="old finished jobs to seed")
    parser.add_argument("--db", help="an empty database URL (default: a fresh SQLite file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nst-purge-bench-") as tmp:
        url = args.db or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        lines = asyncio.run(run(url, args.jobs, Path(tmp)))
    print("\n".join(lines))
    return 0 if "| live jobs requeued as stale | 0 |" in lines else 1


if __name__ == "__main__":
    sys.exit(main())
