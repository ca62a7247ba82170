"""The 500-interaction load scenario, shared by `test_load.py` and `bench.py`.

N users each run `/stylize` at the same moment against the fake Discord; the bot (in this
process, real store on SQLite) must defer every one, record every job and answer every one.
Event-loop lag is sampled by a task that asks to sleep 10 ms and measures how late it wakes;
the fake runs on the same loop, so the lag is an upper bound for the bot alone.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from bot.discord_bot import NSTBot
from bot.store import Store
from tests import badimages
from tests.bot.botproc import bot_process
from tests.bot.discord_bot.conftest import make_settings, on_failure, open_store, started_bot
from tests.fakediscord import FakeDiscord, redirect_discord_py


@dataclass
class LoadResult:
    n: int
    defer_s: list[float]  # per interaction: sent → deferred
    lag_s: list[float]  # event-loop wake-up delays during the burst
    jobs_recorded: int
    answered: int  # interactions whose response shows the queued job
    wall_s: float  # burst sent → every reply edited
    errors: list[str] = field(default_factory=list)
    # From a separate bot process: lag quantiles as histogram bucket bounds, and the defer
    # latency of interactions sent one at a time after the burst.
    lag_bounds: dict[int, float] | None = None
    single_defer_s: list[float] = field(default_factory=list)

    @staticmethod
    def pct(values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]

    def _lag_rows(self) -> list[tuple[str, str]]:
        bounds = self.lag_bounds
        if bounds:  # from the bot's own histogram: bucket upper bounds
            return [
                (f"event-loop lag {k}", f"≤ {v * 1000:g} ms")
                for k, v in (("p50", bounds[50]), ("p99", bounds[99]), ("max", bounds[100]))
            ]
        ms = 1000.0
        return [
            ("event-loop lag p50", f"{self.pct(self.lag_s, 50) * ms:.1f} ms"),
            ("event-loop lag p99", f"{self.pct(self.lag_s, 99) * ms:.1f} ms"),
            ("event-loop lag max", f"{max(self.lag_s, default=float('nan')) * ms:.1f} ms"),
        ]

    def table(self) -> str:
        ms = 1000.0
        rows = [
            ("interactions", f"{self.n}"),
            ("deferred", f"{len(self.defer_s)}"),
            ("jobs recorded", f"{self.jobs_recorded}"),
            ("replies with queue position", f"{self.answered}"),
            ("defer latency p50", f"{self.pct(self.defer_s, 50) * ms:.1f} ms"),
            ("defer latency p99", f"{self.pct(self.defer_s, 99) * ms:.1f} ms"),
            ("defer latency max", f"{max(self.defer_s, default=float('nan')) * ms:.1f} ms"),
            *self._lag_rows(),
            ("burst → all replies", f"{self.wall_s:.1f} s"),
        ]
        single = self.single_defer_s
        if single:
            rows += [
                (
                    f"one at a time ({len(single)}): defer p50",
                    f"{self.pct(single, 50) * ms:.1f} ms",
                ),
                (
                    f"one at a time ({len(single)}): defer p99",
                    f"{self.pct(single, 99) * ms:.1f} ms",
                ),
            ]
        lines = ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in rows]
        return "\n".join(lines)


async def _sample_lag(out: list[float], stop: asyncio.Event, period: float = 0.01) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        start = loop.time()
        await asyncio.sleep(period)
        out.append(max(0.0, loop.time() - start - period))


async def run_load(tmp: Path, n: int = 500, timeout_s: float = 240.0) -> LoadResult:
    """Run the scenario in `tmp` (database and data dir) and return the measurements."""
    settings = make_settings(
        tmp, global_queue_limit=max(500, n), guild_queue_limit=max(500, n), per_user_queue_limit=3
    )
    store: Store = await open_store(settings)
    try:
        async with FakeDiscord() as fake:
            with redirect_discord_py(fake):
                return await _scenario(fake, store, settings, n, timeout_s)
    finally:
        await store.close()


async def _scenario(
    fake: FakeDiscord, store: Store, settings, n: int, timeout_s: float
) -> LoadResult:
    content = fake.add_attachment(badimages.png(badimages.photo()), "c.png", "image/png")
    style = fake.add_attachment(badimages.png(badimages.photo((48, 64))), "s.png", "image/png")
    users = [fake.add_user(f"user{i}") for i in range(n)]
    async with started_bot(fake, store, settings) as bot:
        return await _burst(fake, bot, store, users, content, style, timeout_s)


async def _burst(
    fake: FakeDiscord, bot: NSTBot, store: Store, users, content, style, timeout_s: float
) -> LoadResult:
    errors: list[str] = []
    on_failure(bot, lambda code, exc: errors.append(code))
    lag: list[float] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_lag(lag, stop))
    start = time.perf_counter()
    iids = await asyncio.gather(
        *(fake.slash("stylize", {"content": content, "style": style}, user=u) for u in users)
    )

    done: set[str] = set()

    def answered() -> int:
        # Incremental: this runs on every fake event, so don't rescan finished ones.
        for i in iids:
            if i not in done and (m := fake.original(i)) is not None and "queued" in m.content:
                done.add(i)
        return len(done)

    try:
        await fake.wait_until(
            lambda: answered() + len(errors) >= len(iids),
            timeout=timeout_s,
            what="every interaction to be answered",
        )
    finally:
        stop.set()
        await sampler
    wall = time.perf_counter() - start
    defer = [
        fake.interaction(i).acked_after_s
        for i in iids
        if fake.interaction(i).acked_type == 5 and fake.interaction(i).acked_after_s is not None
    ]
    stats = await store.stats()
    return LoadResult(
        n=len(iids),
        defer_s=defer,
        lag_s=lag,
        jobs_recorded=stats.queued,
        answered=answered(),
        wall_s=wall,
        errors=errors,
    )


def summary(result: LoadResult) -> str:
    return (
        f"p50 {statistics.median(result.defer_s) * 1000:.1f} ms, "
        f"p99 {LoadResult.pct(result.defer_s, 99) * 1000:.1f} ms"
    )


# ---------------------------------------------------------------- bot in its own process
def _lag_buckets(metrics_text: str) -> dict[float, float]:
    """Cumulative bucket counts of nst_event_loop_lag_seconds from a /metrics page."""
    out: dict[float, float] = {}
    for line in metrics_text.splitlines():
        if line.startswith("nst_event_loop_lag_seconds_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out[float(le)] = float(line.rsplit(" ", 1)[1])
    return out


def lag_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """Upper bucket bound holding the q-quantile of the samples taken between two scrapes."""
    bounds = sorted(after)
    total = after[bounds[-1]] - before.get(bounds[-1], 0.0)
    if total <= 0:
        return float("nan")
    for bound in bounds:
        if after[bound] - before.get(bound, 0.0) >= q / 100 * total:
            return bound
    return bounds[-1]


async def _wait_bot_ready(fake: FakeDiscord, http, base: str) -> None:
    """Until the bot process has connected, synced its commands and has its guilds."""
    import aiohttp

    async def discord_ready() -> bool:
        try:
            async with http.get(f"{base}/healthz") as resp:
                return bool((await resp.json()).get("discord_ready"))
        except aiohttp.ClientError:
            return False

    await fake.wait_ready(timeout=60)
    await fake.wait_until(lambda: "stylize" in fake.commands, timeout=30)
    await fake.wait_until(discord_ready, timeout=60)


async def run_load_process(tmp: Path, n: int = 500, timeout_s: float = 240.0) -> LoadResult:
    """The same burst against a real `nst-bot run` process (no executors): the fake and the
    load driver live in this process, the bot alone on its own event loop."""
    import aiohttp

    async with (
        FakeDiscord() as fake,
        bot_process(
            fake,
            tmp,
            EXECUTORS="0",
            GLOBAL_QUEUE_LIMIT=str(n + 100),
            GUILD_QUEUE_LIMIT=str(n + 100),  # every user is in the fake's one guild
            LOG_LEVEL="WARNING",
        ) as bot,
        aiohttp.ClientSession() as http,
    ):
        base = bot.web_base
        await _wait_bot_ready(fake, http, base)
        content = fake.add_attachment(badimages.png(badimages.photo()), "c.png", "image/png")
        style = fake.add_attachment(badimages.png(badimages.photo((48, 64))), "s.png", "image/png")
        users = [fake.add_user(f"user{i}") for i in range(n)]
        async with http.get(f"{base}/metrics") as resp:
            before = _lag_buckets(await resp.text())
        start = time.perf_counter()
        iids = await asyncio.gather(
            *(fake.slash("stylize", {"content": content, "style": style}, user=u) for u in users)
        )

        def answered() -> int:
            return sum(
                1 for i in iids if (m := fake.original(i)) is not None and "queued" in m.content
            )

        await fake.wait_until(
            lambda: answered() >= len(iids),
            timeout=timeout_s,
            what="every interaction to be answered",
        )
        wall = time.perf_counter() - start
        async with http.get(f"{base}/metrics") as resp:
            text = await resp.text()
        after = _lag_buckets(text)
        # Then one at a time (the usual case): latency without a burst in front.
        single: list[float] = []
        for i in range(50):
            user = fake.add_user(f"solo{i}")
            iid = await fake.slash("stylize", {"content": content, "style": style}, user=user)
            await fake.wait_until(lambda iid=iid: fake.interaction(iid).acked_type)
            single.append(fake.interaction(iid).acked_after_s or float("nan"))
            await fake.wait_until(
                lambda iid=iid: (m := fake.original(iid)) is not None and "queued" in m.content
            )
        queued = next(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("nst_queue_depth ")
        )
    defer = [
        fake.interaction(i).acked_after_s
        for i in iids
        if fake.interaction(i).acked_type == 5 and fake.interaction(i).acked_after_s
    ]
    return LoadResult(
        n=len(iids),
        defer_s=defer,
        lag_s=[],
        jobs_recorded=int(queued),
        answered=answered(),
        wall_s=wall,
        lag_bounds={q: lag_quantile(before, after, q) for q in (50, 99, 100)},
        single_defer_s=single,
    )
