"""`make bench-web`: how fast the gallery is, and whether serving it stalls the bot's loop.

Fills a fresh SQLite store with 10 000 finished jobs of real small images (a few hundred of
them public in one guild whose gallery is on, the rest private or of other guilds), serves the
real web app on 127.0.0.1 in this process, and lets 50 concurrent clients — in a separate
process, each with its own connection, like browsers — walk the gallery's pages and load the
thumbnails of the cards on screen (each client fetches an image once, as the immutable cache
headers allow; the server makes each thumbnail once). Prints gallery page p50/p99 (HTML),
thumbnail p50/p99, page bytes, and this process' event-loop lag while the clients run
(lateness of a 20 ms timer, the same probe as `/metrics`' `nst_event_loop_lag_seconds`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from PIL import Image
from sqlalchemy import func, insert, select

from bot.settings import Settings
from bot.store import JobStatus, Store, migrate
from bot.store.db import sha256
from bot.store.models import Image as ImageRow
from bot.store.models import JobRow, JobStyle, Thumbnail
from bot.webui import setup

GALLERY_GUILD = 1234 << 22
OTHER_GUILDS = 40
SEED_CHUNK = 500
LAG_PERIOD_S = 0.02
IDLE_S = 3.0
OLDER = re.compile(r'href="(/g/\d+\?before=\d+)" id="older"')
THUMB = re.compile(r'src="(/g/\d+/\d+/thumb/\d+/[0-9a-f]{64})"')


def picture(width: int, height: int, n: int) -> bytes:
    """A small real PNG, distinct for each `n` (gradients tinted by n; n in a corner pixel)."""
    ramp = Image.linear_gradient("L").resize((width, height))
    tint = Image.new("L", (width, height), n * 37 % 256)
    img = Image.merge(
        "RGB", (ramp, ramp.transpose(Image.Transpose.ROTATE_90).resize(ramp.size), tint)
    )
    img.putpixel((0, 0), (n & 255, n >> 8 & 255, n >> 16 & 255))  # n itself: unique bytes
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def _image_row(data: bytes, width: int, height: int, when: datetime) -> dict[str, Any]:
    return {
        "sha": sha256(data),
        "data": data,
        "fmt": "png",
        "width": width,
        "height": height,
        "size_bytes": len(data),
        "created_at": when,
    }


def _job_row(n: int, content: str, result: str, when: datetime, gallery: int) -> dict[str, Any]:
    public = n < gallery
    return {
        "owner_id": n % 997 + 1,
        "guild_id": GALLERY_GUILD if public or n % 3 == 0 else (n % OTHER_GUILDS + 1) << 22,
        "channel_id": 1,
        "status": JobStatus.SUCCEEDED.value,
        "content_sha": content,
        "size": 512,
        "preset": "standard",
        "style_strength": 1.0,
        "preserve_colors": n % 4 == 0,
        "init": "content",
        "private": not public and n % 2 == 0,
        "dm_on_done": False,
        "attempts": 1,
        "crashes": 0,
        "progress_scale": 2,
        "progress_scales": 2,
        "progress_step": 300,
        "progress_total": 300,
        "result_sha": result,
        "elapsed_s": 9.5,
        "created_at": when,
        "started_at": when,
        "finished_at": when,
        "updated_at": when,
        "delivered_at": when,
        "delivered_via": "channel",
        "delivery_state": "delivered",
    }


async def seed(store: Store, jobs: int, gallery: int) -> None:
    """`jobs` succeeded jobs with their own content and result images and one of 8 styles;
    the first `gallery` of them (by number) public in GALLERY_GUILD, the others private or
    made elsewhere (a third of them in GALLERY_GUILD too, half of those private)."""
    now = datetime.now(UTC)
    styles = [_image_row(picture(96, 96, 10_000 + k), 96, 96, now) for k in range(8)]
    async with store.write() as conn:
        await conn.execute(insert(ImageRow), styles)
    # Jobs go in oldest first and the gallery's are spread over the whole range, so its
    # pages come from all over the table, as in a store that has run for weeks.
    for start in range(0, jobs, SEED_CHUNK):
        numbers = list(range(start, min(jobs, start + SEED_CHUNK)))
        order = [_spread(n, jobs, gallery) for n in numbers]
        images, rows = [], []
        for n, k in zip(numbers, order, strict=True):
            when = now - timedelta(minutes=jobs - n)
            content = _image_row(picture(64, 48, k), 64, 48, when)
            # Gallery results at a typical pastiche size; the rest small (a smaller file).
            side = (384, 288) if k < gallery else (64, 48)
            result = _image_row(picture(*side, k + 50_000), *side, when)
            images += [content, result]
            rows.append(_job_row(k, content["sha"], result["sha"], when, gallery))
        async with store.write() as conn:
            await conn.execute(insert(ImageRow), images)
            ids = list(await conn.scalars(insert(JobRow).returning(JobRow.id), rows))
            await conn.execute(
                insert(JobStyle),
                [
                    {"job_id": i, "position": 0, "image_sha": styles[i % 8]["sha"], "weight": 1.0}
                    for i in ids
                ],
            )
    await store.set_gallery(GALLERY_GUILD, True)


def _spread(n: int, jobs: int, gallery: int) -> int:
    """Job number n's place: every (jobs // gallery)-th job is one of the gallery's."""
    step = max(1, jobs // gallery)
    if n % step == 0 and n // step < gallery:
        return n // step  # numbers below `gallery` are the public gallery jobs
    return gallery + n


class LagProbe:
    """Samples how late a `LAG_PERIOD_S` timer fires on this loop, between start and stop."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(LAG_PERIOD_S)
            self.samples.append(max(0.0, loop.time() - start - LAG_PERIOD_S))

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- the clients (a separate process) ----------------------------------------------------------


async def _client(
    base: str, path: str, pages: int, cards: int, out: dict[str, list[float]]
) -> None:
    fetched: set[str] = set()  # what this "browser" has cached (immutable images)
    async with aiohttp.ClientSession(base) as session:
        for _ in range(pages):
            t0 = time.perf_counter()
            async with session.get(path) as resp:
                html = await resp.text()
                assert resp.status == 200, resp.status
            out["page_ms"].append((time.perf_counter() - t0) * 1000)
            out["page_bytes"].append(len(html.encode()))
            shown = [src for src in THUMB.findall(html)[: cards * 3] if src not in fetched]
            weight = 0
            for src in shown:
                t1 = time.perf_counter()
                async with session.get(src) as img:
                    body = await img.read()
                    assert img.status == 200, img.status
                out["thumb_ms"].append((time.perf_counter() - t1) * 1000)
                weight += len(body)
                fetched.add(src)
            out["weight"].append(len(html.encode()) + weight)
            older = OLDER.search(html)
            path = older.group(1) if older else path.split("?")[0]


async def run_clients(base: str, path: str, clients: int, pages: int, cards: int) -> dict[str, Any]:
    """`clients` concurrent clients, each loading `pages` gallery pages in a row."""
    out: dict[str, list[float]] = {"page_ms": [], "page_bytes": [], "thumb_ms": [], "weight": []}
    t0 = time.perf_counter()
    await asyncio.gather(*(_client(base, path, pages, cards, out) for _ in range(clients)))
    return {**out, "wall_s": time.perf_counter() - t0}


# -- the server (this process) -----------------------------------------------------------------


async def serve(store: Store, settings: Settings) -> tuple[web.AppRunner, int]:
    """The web face as `nst-bot run` mounts it (`bot.webui.setup`), on 127.0.0.1, any port."""
    app = web.Application()
    setup(app, store, settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, runner.addresses[0][1]


async def run(workdir: Path, jobs: int, gallery: int, clients: int, pages: int, cards: int) -> str:
    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await asyncio.to_thread(migrate, url)
    settings = Settings(_env_file=None, database_url=url, data_dir=workdir / "data")
    store = await Store.from_settings(settings)
    t0 = time.perf_counter()
    await seed(store, jobs, gallery)
    seeded_s = time.perf_counter() - t0
    runner, port = await serve(store, settings)
    idle, probe = LagProbe(), LagProbe()
    try:
        idle.start()  # the same probe with no clients: what this machine's load alone does
        await asyncio.sleep(IDLE_S)
        await idle.stop()
        probe.start()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.webui.bench",
            "--clients-of",
            f"http://127.0.0.1:{port}",
            "--clients",
            str(clients),
            "--pages",
            str(pages),
            "--cards",
            str(cards),
            stdout=asyncio.subprocess.PIPE,
        )
        stdout, _ = await proc.communicate()
        await probe.stop()
        if proc.returncode != 0:
            raise SystemExit(f"the client process failed (exit {proc.returncode})")
        seen = json.loads(stdout)
        async with store.read() as conn:
            thumbs = await conn.scalar(select(func.count()).select_from(Thumbnail)) or 0
            total = await conn.scalar(select(func.count()).select_from(JobRow)) or 0
    finally:
        await runner.cleanup()
        await store.close()
    lags = (idle.samples, probe.samples)
    return _report(seen, lags, total, gallery, seeded_s, thumbs, clients, pages, cards)


def _report(
    seen: dict[str, Any],
    lags: tuple[list[float], list[float]],
    total: int,
    gallery: int,
    seeded_s: float,
    thumbs: int,
    clients: int,
    pages: int,
    cards: int,
) -> str:
    page, thumb = seen["page_ms"], seen["thumb_ms"]
    idle_ms, lag_ms = ([s * 1000 for s in samples] for samples in lags)
    return "\n".join(
        [
            f"## bench-web: gallery of {gallery} public jobs in a store of {total} jobs (SQLite)",
            f"seeded in {seeded_s:.1f} s; {clients} concurrent clients x {pages} pages, "
            f"thumbnails of the first {cards} cards; {seen['wall_s']:.1f} s",
            "",
            "| measure | p50 | p99 | max |",
            "|---|---|---|---|",
            f"| gallery page (HTML), ms, {len(page)} loads | {pct(page, 0.5):.1f} | "
            f"{pct(page, 0.99):.1f} | {max(page):.1f} |",
            f"| thumbnail, ms, {len(thumb)} loads ({thumbs} made) | {pct(thumb, 0.5):.1f} | "
            f"{pct(thumb, 0.99):.1f} | {max(thumb):.1f} |",
            f"| event-loop lag while loading, ms, {len(lag_ms)} samples | {pct(lag_ms, 0.5):.1f} "
            f"| {pct(lag_ms, 0.99):.1f} | {max(lag_ms):.1f} |",
            f"| event-loop lag idle (no clients), ms, {len(idle_ms)} samples | "
            f"{pct(idle_ms, 0.5):.1f} | {pct(idle_ms, 0.99):.1f} | {max(idle_ms):.1f} |",
            "",
            f"page bytes (HTML): {statistics.mean(seen['page_bytes']) / 1000:.1f} kB mean, "
            f"{max(seen['page_bytes']) / 1000:.1f} kB max; with the thumbnails on screen, first "
            f"visit: {max(seen['weight']) / 1000:.1f} kB max",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs in the store")
    parser.add_argument("--gallery", type=int, default=300, help="public jobs in the gallery")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--pages", type=int, default=6, help="gallery pages each client loads")
    parser.add_argument("--cards", type=int, default=8, help="cards on screen (thumbnails)")
    parser.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    parser.add_argument("--clients-of", help=argparse.SUPPRESS)  # internal: be the clients
    args = parser.parse_args(argv)
    if args.clients_of:
        path = f"/g/{GALLERY_GUILD}"
        seen = asyncio.run(run_clients(args.clients_of, path, args.clients, args.pages, args.cards))
        print(json.dumps(seen))
        return 0
    if args.quick:
        args.jobs, args.gallery, args.clients, args.pages = 300, 40, 4, 2
    with tempfile.TemporaryDirectory(prefix="nst-bench-web-") as tmp:
        print(
            asyncio.run(
                run(Path(tmp), args.jobs, args.gallery, args.clients, args.pages, args.cards)
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
