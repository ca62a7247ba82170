"""Chaos harness for exactly-once delivery (issue 13), shared by tests/bot/test_chaos.py and the
`make bench-chaos` benchmark: the real `nst-bot run` (with its real executors) against the fake
Discord answering a share of delivery requests with 429, 500 and connection resets, while the
bot process and executors are SIGKILLed at seeded moments; at the end one count per job of the
bot messages that carry its outcome."""

from __future__ import annotations

import asyncio
import io
import os
import random
import re
import signal
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image

from bot.store import Job, JobStatus, Store
from tests.bot.botproc import BotProcess, start_bot, stop_bot
from tests.fakediscord import Delivery, FakeDiscord, RecordedCall
from tests.fakediscord.records import payload_text

# Faults strike delivery only (edits of the response, channel and DM posts, opening a DM):
# a failed defer is a failed command the user sees, not a lost result.
DELIVERY_PATHS = r"/webhooks/.*|/channels/\d+/messages(/\d+)?|/users/@me/channels"
FAULT_KINDS = ("429", "500", "reset")
ORIGINAL_ROUTE = "PATCH /webhooks/{app}/{token}/messages/{mid}"  # the bot edits @original
CHANNEL_ROUTE = "POST /channels/{cid}/messages"
RESULT_TITLE = re.compile(r"Pastiche #(\d+)\b")


def outcome_marker(job_id: int) -> str:
    """What every finished-job message says (render.finished_text), and nothing else does."""
    return rf"\*\*#{job_id}\*\* (?:is ready|was cancelled|failed)"


def tiny_png(seed: int, side: int = 48) -> bytes:
    """A small PNG of random coloured blocks (content and style images for 64 px jobs)."""
    rng = random.Random(seed)
    img = Image.new("RGB", (8, 8))
    img.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(64)])
    out = io.BytesIO()
    img.resize((side, side), Image.Resampling.NEAREST).save(out, "PNG")
    return out.getvalue()


def chaos_env(executors: int, **extra: str) -> dict[str, str]:
    """Settings of the bot under chaos: 64 px `fast` jobs, short leases, heartbeats and
    backoffs so that crashes are noticed in seconds, and no limit that 30+ jobs would hit."""
    return {
        "EXECUTORS": str(executors),
        "DEVICE": "cpu",
        "ENGINE_THREADS": "1",
        "DEFAULT_SIZE": "64",
        "DEFAULT_PRESET": "fast",
        "HEARTBEAT_INTERVAL_S": "0.5",
        "STALE_AFTER_S": "3",
        "MAX_CRASHES": "8",  # kills are the harness's doing, not the jobs' fault
        "PER_USER_QUEUE_LIMIT": "200",
        "GUILD_QUEUE_LIMIT": "500",
        "GLOBAL_QUEUE_LIMIT": "1000",
        "PROGRESS_EDIT_INTERVAL_S": "1",
        "POLL_INTERVAL_S": "0.2",
        "DELIVERY_LEASE_S": "3",
        "DELIVERY_SWEEP_S": "1",
        "DELIVERY_BACKOFF_S": "0.5",
        "DELIVERY_BACKOFF_MAX_S": "4",
        "DELIVERY_MAX_ATTEMPTS": "40",
        "GUILD_READY_TIMEOUT_S": "0.05",
        "LOG_LEVEL": "INFO",
        **extra,
    }


def ppid_of(pid: int) -> int | None:
    """The parent pid of a live process (Linux /proc), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


@dataclass
class JobTally:
    """One job at the end of a run and the bot messages carrying its outcome."""

    job: Job
    deliveries: list[Delivery]
    with_result: list[Delivery]  # of those, the ones whose matching version carries the image

    @property
    def ok(self) -> bool:
        job = self.job
        if job.delivered_at is None or len(self.deliveries) != 1:
            return False
        return job.status != JobStatus.SUCCEEDED or len(self.with_result) == 1

    def describe(self) -> str:
        d = self.job.delivery
        return (
            f"job {self.job.id} {self.job.status.value} delivery={d.state} attempts={d.attempts} "
            f"target={d.target} error={d.error!r} via={self.job.delivered_via} "
            f"messages={self.deliveries}"
        )


@dataclass
class Tally:
    """Exactly-once accounting over every job of a run."""

    submitted: int
    jobs: list[JobTally]

    @property
    def lost(self) -> list[JobTally]:
        return [t for t in self.jobs if not t.deliveries]

    @property
    def duplicated(self) -> list[JobTally]:
        return [t for t in self.jobs if len(t.deliveries) > 1]

    @property
    def bad(self) -> list[JobTally]:
        return [t for t in self.jobs if not t.ok]

    def delays_s(self) -> list[float]:
        """Seconds from "succeeded/failed" (finished_at) to "delivered" (delivered_at)."""
        return sorted(
            (t.job.delivered_at - t.job.finished_at).total_seconds()
            for t in self.jobs
            if t.job.delivered_at and t.job.finished_at
        )

    def summary(self) -> str:
        delays = self.delays_s()
        lines = [
            f"jobs submitted {self.submitted}, in the store {len(self.jobs)}",
            f"deliveries {sum(len(t.deliveries) for t in self.jobs)}, "
            f"duplicates {sum(len(t.deliveries) - 1 for t in self.duplicated)}, "
            f"lost {len(self.lost) + self.submitted - len(self.jobs)}",
        ]
        if delays:
            p = statistics.quantiles(delays, n=100, method="inclusive") if len(delays) > 1 else []
            p50, p99 = (p[49], p[98]) if p else (delays[0], delays[0])
            lines.append(
                f"finished -> delivered: p50 {p50:.2f} s, p99 {p99:.2f} s, max {delays[-1]:.2f} s"
            )
        return "\n".join(lines)


def nonce_replays(fake: FakeDiscord) -> list[RecordedCall]:
    """The posts the fake answered with an earlier message of the same nonce (its note names
    that message: "duplicate of message ID")."""
    return [c for c in fake.calls if "duplicate of message" in c.note]


def fault_counts(chaoses: list[Any]) -> dict[str, int]:
    """Faults injected per kind (429, 500, reset; struck before or after handling) over runs of
    `fake.chaos`."""
    out = dict.fromkeys(FAULT_KINDS, 0)
    for chaos in chaoses:
        for kind, n in chaos.counts().items():
            key = kind.removesuffix(" after")
            out[key] = out.get(key, 0) + n
    return out


def three_users(fake: FakeDiscord) -> list[dict[str, Any]]:
    """Where the chaos jobs come from: alice in #general (her fallback is a channel post), bob
    in a channel the bot may not post in (his fallback is a DM) and carol in a DM."""
    locked = fake.add_channel("locked")
    fake.forbid_channel(locked)
    return [
        {"user": fake.alice, "where": {}},
        {"user": fake.bob, "where": {"channel": locked}},
        {"user": fake.add_user("carol"), "where": {"dm": True}},
    ]


async def submit_jobs(
    run: ChaosRun, places: list[dict[str, Any]], start: int, count: int
) -> list[int]:
    """`count` jobs, cycling over `places`; every other job's interaction token is expired at
    once, so its result goes by channel post or DM (with a nonce) instead of the edit."""
    ids = []
    for i in range(start, start + count):
        place = places[i % len(places)]
        ids.append(await run.submit(place["user"], **place["where"]))
        if i % 2 == 0:
            run.fake.expire_token(run.interactions[-1])
    return ids


def count_deliveries(fake: FakeDiscord, jobs: list[Job], submitted: int) -> Tally:
    """Per job, the bot messages that carry its outcome (re-edits of one message count once)."""
    out = []
    for job in sorted(jobs, key=lambda j: j.id):
        marker = outcome_marker(job.id)
        deliveries = fake.result_messages(marker)
        with_result = fake.result_messages(marker, has_files=True)
        out.append(JobTally(job, deliveries, with_result))
    return Tally(submitted, out)


@dataclass
class ChaosRun:
    """The bot under chaos: start / SIGKILL / restart it, kill its executors, submit jobs."""

    fake: FakeDiscord
    workdir: Path
    env: dict[str, str]
    rng: random.Random
    bot: BotProcess | None = None
    store: Store | None = None
    interactions: list[str] = field(default_factory=list)
    bot_kills: list[str] = field(default_factory=list)  # why each SIGKILL
    executor_kills: list[tuple[int, int | None]] = field(default_factory=list)  # (pid, job)
    # (job, message) of each result post or edit that took effect just before a SIGKILL
    armed_kills: list[tuple[int, str]] = field(default_factory=list)
    _images: list[dict[str, Any]] = field(default_factory=list)

    @property
    def db_url(self) -> str:
        return self.env.get("DATABASE_URL") or f"sqlite+aiosqlite:///{self.workdir / 'nst.db'}"

    async def start(self) -> None:
        """(Re)start the bot and wait until it is on the gateway with its commands synced."""
        gateway = self.fake.gateway
        before = gateway.identifies  # a restarted bot IDENTIFYs afresh
        self.bot = await start_bot(self.fake, self.workdir, **self.env)
        await self.fake.wait_until(
            lambda: gateway.identifies > before and gateway.connected and self.fake.commands,
            timeout=90,
        )
        if self.store is None:
            self.store = await Store.open(self.db_url)

    async def close(self) -> int | None:
        """SIGTERM the bot (if alive) and close the harness's store; the bot's exit code."""
        code = await stop_bot(self.fake, self.bot) if self.bot else None
        if self.store is not None:
            await self.store.close()
        return code

    async def kill_bot(self, why: str) -> None:
        """SIGKILL the bot process (its executors notice and stop) and start a new one."""
        assert self.bot is not None
        await stop_bot(self.fake, self.bot, signal.SIGKILL)
        self.bot_kills.append(why)
        await self.start()

    def arm_result_kill(self, route: str) -> asyncio.Event:
        """SIGKILL the bot inside the fake's handler of the next result post or edit on `route`
        that took effect: the message exists, the bot never hears back, nothing is recorded."""
        fired = asyncio.Event()

        def hook(call: RecordedCall) -> None:
            title = _result_title(call)
            if call.route != route or not call.ok or not call.files or title is None:
                return
            if "duplicate" in call.note or fired.is_set():
                return  # a nonce replay is not a new post
            assert self.bot is not None
            os.kill(self.bot.proc.pid, signal.SIGKILL)
            self.armed_kills.append((title, str(call.response["id"])))
            fired.set()
            remove()

        remove = self.fake.on_handled(hook)
        return fired

    async def kill_armed(
        self,
        route: str,
        timeout: float = 180,  # noqa: ASYNC109
        *,
        while_down: Callable[[int], Any] | None = None,
    ) -> int:
        """Arm a result kill on `route`, wait for it, check the store had not recorded the
        delivery, call `while_down(job_id)`, restart; returns the job id."""
        fired = self.arm_result_kill(route)
        assert self.bot is not None
        self.fake.unwatch(self.bot.proc)  # it is going to die on purpose
        await asyncio.wait_for(fired.wait(), timeout)
        job_id, _message = self.armed_kills[-1]
        await stop_bot(self.fake, self.bot, signal.SIGKILL)
        job = await self._store().get_job(job_id)
        assert job is not None and job.delivered_at is None, job  # killed in between
        self.bot_kills.append(f"right after the result of job {job_id} took effect on {route}")
        if while_down is not None:
            while_down(job_id)
        await self.start()
        return job_id

    async def kill_executor(self, timeout: float = 120) -> None:  # noqa: ASYNC109
        """SIGKILL one of the bot's executors while it runs a job."""

        async def running_child():
            bot_pid = self.bot.proc.pid  # type: ignore[union-attr]
            for w in await self._store().workers(stale_after_s=2.0):
                if w.pid and w.current_job_id and ppid_of(w.pid) == bot_pid:
                    return w
            return None

        worker = await self.fake.wait_until(running_child, timeout=timeout, poll_s=0.1)
        os.kill(worker.pid, signal.SIGKILL)
        self.executor_kills.append((worker.pid, worker.current_job_id))

    async def submit(self, user: dict[str, Any], **where: Any) -> int:
        """One `/stylize` from `user` (`channel=`, `dm=True`); waits for the job in the store."""
        if not self._images:
            self._images = [
                self.fake.add_attachment(tiny_png(i), f"img{i}.png", "image/png") for i in range(4)
            ]
        content, style = self.rng.sample(self._images, 2)
        before = await self._count()
        iid = await self.fake.slash(
            "stylize", {"content": content, "style": style}, user=user, **where
        )
        self.interactions.append(iid)

        async def stored():
            return await self._count() > before

        await self.fake.wait_until(stored, timeout=60, poll_s=0.1)
        return max(j.id for j in await self._jobs())

    async def pause(self, lo: float, hi: float) -> None:
        """A seeded random wait: what makes the moments of the kills random."""
        await asyncio.sleep(self.rng.uniform(lo, hi))

    async def wait_all_delivered(self, timeout: float) -> None:  # noqa: ASYNC109
        """Until every job is finished and its delivery settled (delivered or undeliverable)."""

        async def settled():
            jobs = await self._jobs()
            states = {j.delivery.state for j in jobs}
            return len(jobs) == len(self.interactions) and states <= {"delivered", "undeliverable"}

        await self.fake.wait_until(settled, timeout=timeout, poll_s=0.5)

    async def healthz(self) -> tuple[int, Any]:
        """The live bot's /healthz status and body."""
        assert self.bot is not None
        url = f"{self.bot.web_base}/healthz"
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            return resp.status, await resp.json(content_type=None)

    async def tally(self) -> Tally:
        """Count, per job, the bot messages carrying its outcome (re-edits count once)."""
        return count_deliveries(self.fake, await self._jobs(), len(self.interactions))

    def _store(self) -> Store:
        assert self.store is not None
        return self.store

    async def _jobs(self) -> list[Job]:
        return await self._store().recent_jobs(limit=10_000)

    async def _count(self) -> int:
        return len(await self._jobs())


def _result_title(call: RecordedCall) -> int | None:
    """The job id a request's result names ("Pastiche #N": the pastiche's description in the
    result's media gallery), if it carries one."""
    body = call.json if isinstance(call.json, dict) else {}
    m = RESULT_TITLE.search(payload_text(body))
    return int(m.group(1)) if m else None
