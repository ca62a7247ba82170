"""One claimed job inside an executor: the engine in a worker thread while the asyncio loop
does the cancel checks, throttled progress writes and shutdown decisions, then the outcome is
recorded in the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.executor.engine_call import EngineOptions, JobInput, Outcome, StopFlag, run_job
from bot.executor.progress import ProgressRelay
from bot.executor.testhooks import crash_seed, maybe_crash

if TYPE_CHECKING:
    from bot.store.ports import ExecutorStore
    from bot.store.types import ClaimedJob

log = logging.getLogger("bot.executor")

CANCEL_CHECK_S = 0.25  # how often a running job's cancel flag is read
PROGRESS_WRITE_S = 1.0  # at most one progress write per second
PREVIEW_INTERVAL_S = 3.0
STOP_WATCHDOG_S = 120.0  # an engine that ignores should_stop this long is considered hung
EXIT_HUNG = 70


class JobRun:
    """Runs one claimed job to its recorded end; `stop` is the engine's should_stop hook."""

    def __init__(
        self,
        claimed: ClaimedJob,
        *,
        store: ExecutorStore,
        worker_id: str,
        options: EngineOptions,
        shutting_down: Callable[[], bool],
        finish_grace_s: float,
    ) -> None:
        self.claimed = claimed
        self.job_id: int = claimed.job.id
        self.token: str | None = claimed.token  # fences every write of this attempt
        self.recording = False  # the outcome is being written: later heartbeats may not own it
        self.store = store
        self.worker_id = worker_id
        self.options = options
        self.shutting_down = shutting_down
        self.finish_grace_s = finish_grace_s
        self.stop = StopFlag()
        if claimed.job.cancel_requested:
            self.stop.set("cancel")

    async def run(self) -> Outcome:
        """Run the engine, then record how it ended; returns the outcome."""
        job = self.claimed.job
        params = job.params
        log.info(
            "claimed job %d (attempt %d, owner %d, %d px, %s)",
            job.id,
            job.attempts,
            job.owner_id,
            params.size,
            params.preset,
        )
        spec = JobInput(
            job_id=job.id,
            content=self.claimed.content.data,
            styles=[(image.data, weight) for image, weight in self.claimed.styles],
            params=params,
        )
        relay = ProgressRelay(
            preview_interval_s=PREVIEW_INTERVAL_S,
            # Test-only fault injection; not consulted on every step unless armed.
            on_step=(lambda p: maybe_crash(params.seed, int(p.step)))
            if crash_seed() is not None
            else None,
        )
        engine = asyncio.create_task(
            asyncio.to_thread(run_job, spec, self.options, callback=relay, should_stop=self.stop)
        )
        watcher = asyncio.create_task(self._watch(relay, engine))
        try:
            outcome = await asyncio.shield(engine)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await self._record(outcome)
        return outcome

    def lost(self) -> None:
        """The job is no longer ours (requeued as stale?): stop the engine, write nothing.
        A heartbeat that raced our own recording of the outcome says so too: nothing to do."""
        if self.recording:
            return
        if not self.stop():
            log.warning("job %d is no longer ours (requeued as stale?); abandoning it", self.job_id)
        self.stop.set("lost")

    async def _watch(self, relay: ProgressRelay, engine: asyncio.Task[Outcome]) -> None:
        """While the engine runs: cancel checks, throttled progress, shutdown decisions."""
        job_id, stop = self.job_id, self.stop
        last_write = time.monotonic()
        while not engine.done():
            await asyncio.sleep(CANCEL_CHECK_S)
            try:
                if not stop() and await self.store.is_cancel_requested(job_id):
                    log.info("job %d: cancel requested", job_id)
                    stop.set("cancel")
                if self.shutting_down() and not stop():
                    snap = relay.latest
                    eta = snap.eta_s if snap is not None else None
                    if eta is None or eta > self.finish_grace_s:
                        log.info("job %d: stopping it to requeue (shutdown)", job_id)
                        stop.set("shutdown")
                if time.monotonic() - last_write >= PROGRESS_WRITE_S:
                    last_write = time.monotonic()
                    await self._write_progress(relay)
                if stop.set_at is not None and time.monotonic() - stop.set_at > STOP_WATCHDOG_S:
                    # The engine ignores should_stop (hung in native code?). Die like a crash:
                    # the job's heartbeat goes stale and the stale-requeue/poison rule takes over.
                    log.critical(
                        "job %d: engine did not stop in %.0f s; exiting", job_id, STOP_WATCHDOG_S
                    )
                    logging.shutdown()
                    os._exit(EXIT_HUNG)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job %d: progress/cancel bookkeeping failed", job_id)

    async def _write_progress(self, relay: ProgressRelay) -> None:
        snap, preview = relay.take()
        if snap is None:
            return
        owned = await self.store.report_progress(
            self.job_id,
            self.worker_id,
            scale=snap.scale,
            scales=snap.scales,
            step=snap.step,
            total=snap.total_steps,
            eta_s=snap.eta_s,
            preview_jpeg=preview.jpeg if preview else None,
            preview_size=(preview.width, preview.height) if preview else None,
            token=self.token,
        )
        if not owned:
            self.lost()

    async def _record(self, outcome: Outcome) -> None:
        self.recording = True
        store, wid, job_id, reason = self.store, self.worker_id, self.job_id, self.stop.reason
        token = self.token
        if outcome.kind == "succeeded":
            png = outcome.png
            assert png is not None
            ok = await retry(
                lambda: store.complete(
                    job_id,
                    wid,
                    png,
                    outcome.width,
                    outcome.height,
                    outcome.elapsed_s,
                    notes=outcome.notes,
                    precision=outcome.precision,
                    token=token,
                )
            )
            log.info(
                "job %d succeeded: %dx%d, %d steps in %.1f s on %s (%s)%s",
                job_id,
                outcome.width,
                outcome.height,
                outcome.steps,
                outcome.elapsed_s,
                outcome.device,
                outcome.precision,
                "" if ok else " (but it was no longer ours; result dropped)",
            )
        elif outcome.kind == "failed":
            assert outcome.error_code is not None and outcome.error_message is not None
            code, message = outcome.error_code, outcome.error_message
            await retry(lambda: store.fail(job_id, wid, code, message, token=token))
            log.info("job %d failed: %s", job_id, outcome.error_code)
        elif reason == "shutdown":
            await retry(lambda: store.requeue(job_id, wid, token=token))
            log.info("job %d requeued (executor shutting down)", job_id)
        elif reason == "lost":
            log.info("job %d abandoned", job_id)
        else:
            await retry(lambda: store.mark_cancelled(job_id, wid, token=token))
            log.info("job %d cancelled", job_id)


async def retry(
    call: Callable[[], Awaitable[object]], attempts: int = 5, delay_s: float = 0.5
) -> bool:
    """Run a final-state write, retrying briefly (a busy database must not lose a result)."""
    for attempt in range(1, attempts + 1):
        try:
            return bool(await call())
        except Exception:
            if attempt == attempts:
                log.exception("database write failed %d times; giving up", attempts)
                return False
            await asyncio.sleep(delay_s * attempt)
    return False
