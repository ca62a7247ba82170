"""One background task that follows the store and keeps Discord in sync with it.

It polls `updated_since` for changed jobs, edits running jobs' responses at most every
`progress_edit_interval_s` (coalescing: only the newest state of a job is kept, never a queue
of edits, and at most one request per job is in flight), leases and delivers jobs it sees
finish, and every `sweep_s` leases due deliveries (`lease_deliveries`: pending ones whose
backoff has passed and expired leases of other processes, next attempt first), so nothing is
lost across restarts, crashes or missed polls and a few failing deliveries never block the
rest. Every `queue_refresh_s` it re-reads the positions of the first jobs in line and edits
the cards whose position changed. With `shards`, every query is limited to the jobs of this
process's shards: several bot processes on one database split the work between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import discord

from bot.discord_bot.courier import Outcome, attempt
from bot.discord_bot.delivery import edit_progress, edit_queued, token_usable
from bot.discord_bot.failures import describe, is_transient
from bot.discord_bot.lease import Lease, holder_id
from bot.store import Job, JobStatus
from bot.store.shards import ShardSet
from bot.store.types import DeliveryState

if TYPE_CHECKING:
    from bot.discord_bot.client import NSTBot

log = logging.getLogger(__name__)

QUEUE_REFRESH_LIMIT = 20  # cards refreshed per round: the front of the queue moves most
RETRY_MARGIN_S = 0.1


class Watcher:
    """Polls the store; see the module docstring."""

    def __init__(
        self,
        bot: NSTBot,
        *,
        poll_s: float = 0.5,
        edit_interval_s: float = 3.0,
        sweep_s: float = 5.0,
        queue_refresh_s: float = 15.0,
        max_parallel: int = 8,
        shards: ShardSet | None = None,
        holder: str | None = None,
    ) -> None:
        self.bot = bot
        self.shards = shards  # None: every job (one process runs every shard)
        self.holder = holder or holder_id()
        self.max_parallel = max_parallel
        self.poll_s = poll_s
        self.edit_interval_s = edit_interval_s
        self.sweep_s = sweep_s
        self.queue_refresh_s = queue_refresh_s
        self._pending: dict[int, Job] = {}  # newest unsent state per job
        self._inflight: set[int] = set()
        self._last_edit: dict[int, float] = {}
        self._shown: dict[int, tuple] = {}  # what the last progress edit showed
        self._position: dict[int, int] = {}  # queue position a waiting job's card shows
        self._no_token: set[int] = set()
        self._since = datetime.now(UTC) - timedelta(minutes=1)
        self._last_sweep = 0.0
        self._next_sweep = float("inf")  # sooner than `sweep_s` when a retry is due earlier
        self._last_queue_refresh = time.monotonic()
        self._wake = asyncio.Event()
        self._sem = asyncio.Semaphore(max_parallel)
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._leased: dict[int, Lease] = {}  # leases granted, their delivery not started yet
        self._delivering: set[int] = set()
        self.deliveries: dict[str, int] = {}  # delivered, by channel used
        self.outcomes: dict[str, int] = {}  # every attempt's outcome (Outcome values)
        self.edits = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="nst-watcher")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def shown_position(self, job_id: int, position: int) -> None:
        """Record the queue position a new job's card shows (so it is not re-sent)."""
        self._position[job_id] = position

    def poke(self) -> None:
        """Poll now instead of waiting for the next tick (e.g. after a cancel)."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("watcher tick failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)
            self._wake.clear()

    async def tick(self) -> None:
        """One poll: read changes, sweep now and then, and dispatch due work."""
        store = self.bot.store
        while True:
            changed = await store.updated_since(self._since, limit=200, shards=self.shards)
            for job in changed:
                self._pending[job.id] = job
            if changed:
                self._since = max(self._since, changed[-1].updated_at)
            if len(changed) < 200:
                break
        now = time.monotonic()
        regular = now - self._last_sweep >= self.sweep_s
        if regular or now >= self._next_sweep:
            self._next_sweep = float("inf")
            if regular:
                self._last_sweep = now
                await store.expire_interaction_tokens()
            await self._sweep_deliveries()
        if now - self._last_queue_refresh >= self.queue_refresh_s:
            self._last_queue_refresh = now
            await self._refresh_queue()
        self._dispatch()

    async def _sweep_deliveries(self) -> None:
        """Lease as many due deliveries as there are free slots; when that may leave some due
        (no free slot, or every slot filled), look again at the next tick: a backlog (after a
        restart) drains as fast as deliveries finish, not a few per `sweep_s`."""
        free = self.max_parallel - len(self._delivering) - len(self._leased)
        if free > 0:
            lease_s = self.bot.settings.delivery_lease_s
            leased = await self.bot.store.lease_deliveries(
                self.holder, shards=self.shards, limit=free, lease_s=lease_s
            )
            for job in leased:
                self._leased[job.id] = Lease(self.bot.store, job.id, self.holder, lease_s)
                self._pending[job.id] = job
            if len(leased) < free:
                return
        self._next_sweep = time.monotonic()

    async def _refresh_queue(self) -> None:
        store = self.bot.store
        active = await store.active_jobs(shards=self.shards)
        waiting = [j for j in active if j.status == JobStatus.QUEUED]
        waiting = [j for j in waiting if j.id not in self._inflight and token_usable(j)]
        online: int | None = None
        for job in waiting[:QUEUE_REFRESH_LIMIT]:
            info = await store.queue_info(job.id)
            if info is None or info.status != JobStatus.QUEUED:
                continue
            if self._position.get(job.id) == info.position:
                continue
            if online is None:
                online = await store.executors_online(stale_after_s=self.bot.settings.stale_after_s)
            self._position[job.id] = info.position

            async def edit(job: Job, info=info, online=online) -> None:
                if not await edit_queued(self.bot, job, info, online):
                    self._position.pop(job.id, None)

            self._spawn(job, edit)

    def _dispatch(self) -> None:
        now = time.monotonic()
        for job_id, job in list(self._pending.items()):
            if job_id in self._inflight:
                continue  # the newest state stays pending until the running request ends
            if job.status.finished:
                del self._pending[job_id]
                if job_id in self._leased:
                    self._spawn(job, self._deliver, limit=False)
                elif self._due(job):
                    self._spawn(job, self._lease_and_deliver, limit=False)
                elif job.delivery.state in (DeliveryState.DELIVERED, DeliveryState.UNDELIVERABLE):
                    self._forget(job_id)
                # else: another process holds it, or its next attempt is later: the sweep
            elif job.status == JobStatus.RUNNING:
                self._position.pop(job_id, None)
                if job_id in self._no_token:
                    del self._pending[job_id]
                    continue
                shown = (job.progress.step, job.progress.total, job.preview_sha)
                if shown == self._shown.get(job_id):
                    del self._pending[job_id]
                elif now - self._last_edit.get(job_id, 0.0) >= self.edit_interval_s:
                    del self._pending[job_id]
                    self._spawn(job, self._edit)
                # else: keep it pending; a later tick sends the newest state
            else:
                del self._pending[job_id]

    @staticmethod
    def _due(job: Job) -> bool:
        """A finished job whose delivery nobody holds and whose backoff (if any) has passed."""
        d = job.delivery
        if d.state != DeliveryState.PENDING:
            return False
        return d.next_at is None or d.next_at <= datetime.now(UTC)

    def _spawn(self, job: Job, action, *, limit: bool = True) -> None:
        self._inflight.add(job.id)
        task = asyncio.create_task(self._guard(job, action, limit), name=f"nst-job-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, job: Job, action, limit: bool) -> None:
        try:
            if limit:
                async with self._sem:
                    await action(job)
            else:  # deliveries take the semaphore themselves, once their lease is renewing
                await action(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, discord.HTTPException) or is_transient(exc):
                # A progress or queue edit that failed; the next change sends the newest state.
                log.warning("job %d: edit failed (%s); will retry", job.id, describe(exc))
            else:
                log.exception("job %d: update failed; will retry", job.id)
        finally:
            self._inflight.discard(job.id)
            if job.id in self._pending:
                self._wake.set()

    async def _edit(self, job: Job) -> None:
        self._last_edit[job.id] = time.monotonic()
        ok = await edit_progress(self.bot, job)
        if not ok:
            self._no_token.add(job.id)
            return
        self._shown[job.id] = (job.progress.step, job.progress.total, job.preview_sha)
        self.edits += 1

    async def _lease_and_deliver(self, job: Job) -> None:
        """A job the poll just saw finish: lease it (None: another process has it) and deliver."""
        lease_s = self.bot.settings.delivery_lease_s
        leased = await self.bot.store.lease_delivery(job.id, self.holder, lease_s=lease_s)
        if leased is None:
            return
        self._leased[job.id] = Lease(self.bot.store, job.id, self.holder, lease_s)
        await self._deliver(leased)

    async def _deliver(self, job: Job) -> None:
        lease = self._leased.pop(job.id)
        self._delivering.add(job.id)
        try:
            async with lease.renewing(), self._sem:
                done = await attempt(self.bot, job, lease)
        finally:
            self._delivering.discard(job.id)
        self.outcomes[done.outcome] = self.outcomes.get(done.outcome, 0) + 1
        if done.outcome == Outcome.DELIVERED:
            self.deliveries[done.detail] = self.deliveries.get(done.detail, 0) + 1
            log.info("job %d (%s) delivered via %s", job.id, job.status.value, done.detail)
        elif done.retry_in_s is not None:
            # Sweep when it is due rather than up to `sweep_s` later (a little after, so the
            # store's clock has passed its next attempt time too).
            due = time.monotonic() + done.retry_in_s + RETRY_MARGIN_S
            self._next_sweep = min(self._next_sweep, due)
        if done.outcome in (Outcome.DELIVERED, Outcome.UNDELIVERABLE):
            self.bot.dispatch("job_settled", job)  # listeners: `on_job_settled(job)`
            self._forget(job.id)

    def _forget(self, job_id: int) -> None:
        self._last_edit.pop(job_id, None)
        self._shown.pop(job_id, None)
        self._position.pop(job_id, None)
        self._no_token.discard(job_id)
