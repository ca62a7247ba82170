"""`nst-bot executor`: one process that claims jobs from the store and runs the engine.

Runs standalone on any host given DATABASE_URL (SQLite for one host, PostgreSQL to scale out).
The asyncio loop owns all database traffic — claiming, heartbeats, throttled progress, cancel
checks, the stale-job requeue — while the engine runs in a worker thread, so a long L-BFGS run
never stops this executor from proving it is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import sys
import time
from typing import Any

from bot.executor.jobrun import (
    INTERNAL_MESSAGE,
    EngineOptions,
    JobInput,
    Outcome,
    StopFlag,
    run_job,
)
from bot.executor.progress import ProgressRelay
from bot.executor.supervisor import PARENT_PID_ENV
from bot.executor.testhooks import maybe_crash
from bot.settings import Settings

log = logging.getLogger("bot.executor")

POLL_S = 0.1  # idle claim poll; jittered, so pickup latency stays well under 250 ms
CANCEL_CHECK_S = 0.25  # how often a running job's cancel flag is read
PROGRESS_WRITE_S = 1.0  # at most one progress write per second
PREVIEW_INTERVAL_S = 3.0
STOP_WATCHDOG_S = 120.0  # an engine that ignores should_stop this long is considered hung
EXIT_OK, EXIT_CONFIG, EXIT_HUNG = 0, 2, 70


def main(settings: Settings, worker_id: str | None = None, once: bool = False) -> int:
    """Entry point of `nst-bot executor`; returns the process exit code."""
    worker_id = worker_id or f"{socket.gethostname().split('.')[0]}-{os.getpid()}"
    _configure_logging(settings, worker_id)
    try:
        return asyncio.run(_amain(settings, worker_id, once))
    except KeyboardInterrupt:  # a signal before the loop installed its handlers
        return EXIT_OK


async def _amain(settings: Settings, worker_id: str, once: bool) -> int:
    from bot.store import Store, StoreError

    try:
        store = await Store.from_settings(settings)
    except Exception as exc:
        log.error("cannot open the database: %s", _safe_error(exc, settings))
        return EXIT_CONFIG
    try:
        try:
            await store.check_schema()  # this process applies no migrations: `nst-bot run` does
        except StoreError as exc:
            log.error("%s", exc.message)
            return EXIT_CONFIG
        except Exception as exc:
            log.error("cannot query the database: %s", _safe_error(exc, settings))
            return EXIT_CONFIG
        return await Worker(settings, store, worker_id, once=once).run()
    finally:
        await store.close()


class Worker:
    """The claim → run → record loop of one executor process."""

    def __init__(self, settings: Settings, store: Any, worker_id: str, *, once: bool = False):
        self.settings = settings
        self.store = store
        self.worker_id = worker_id
        self.once = once
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.options = EngineOptions(
            device=None if settings.device == "auto" else settings.device,
            weights=settings.weights,
            max_size=settings.max_size,
            max_pixels=settings.max_image_pixels,
        )
        self.finish_grace_s = settings.executor_finish_grace_s
        self._shutdown = asyncio.Event()
        self._signals = 0
        self._job_id: int | None = None
        self._stop: StopFlag | None = None
        self.jobs_done = 0

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> int:
        """Warm up, then claim and run jobs until SIGTERM (or an empty queue with `once`)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_shutdown, sig)
        if self._orphaned():
            return EXIT_OK
        await self.store.heartbeat(self.worker_id, host=self.host, pid=self.pid)
        started = time.monotonic()
        try:
            device = await asyncio.to_thread(self._warm_up)
        except Exception as exc:
            log.error("engine warm-up failed: %s", exc)
            await self.store.unregister_worker(self.worker_id)
            return EXIT_CONFIG
        log.info(
            "executor %s ready on %s (VGG19 %s loaded in %.1f s)",
            self.worker_id,
            device,
            self.options.weights,
            time.monotonic() - started,
        )
        background = asyncio.create_task(self._background(), name="heartbeat")
        try:
            while not self._shutdown.is_set():
                claimed = await self._claim_next()
                if claimed is None:
                    break
                try:
                    await self._process(claimed)
                except Exception:
                    # A bug here must not leave the job "running" until it looks like a crash.
                    log.exception("job %d: internal error in the executor", claimed.job.id)
                    await self._fail_internal(claimed.job.id)
        finally:
            background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await background
            with contextlib.suppress(Exception):
                await self.store.unregister_worker(self.worker_id)
        log.info("executor %s stopped after %d job(s)", self.worker_id, self.jobs_done)
        return EXIT_OK

    async def _fail_internal(self, job_id: int) -> None:
        await _retry(
            lambda: self.store.fail(job_id, self.worker_id, "internal_error", INTERNAL_MESSAGE)
        )

    def request_shutdown(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM/SIGINT: stop claiming; a running job finishes if nearly done, else requeues.

        A second signal stops the running job at once.
        """
        self._signals += 1
        if not self._shutdown.is_set():
            log.info("received %s: shutting down", signal.Signals(sig).name)
        self._shutdown.set()
        if self._stop is not None and self._signals > 1:
            self._stop.set("shutdown")

    def _warm_up(self) -> str:
        # Load (and cache) the VGG once so the first job doesn't pay for it.
        from nst_engine.device import select_device
        from nst_engine.vgg import load_encoder

        load_encoder(self.options.weights, self.options.device)
        return str(select_device(self.options.device))

    # ------------------------------------------------------------------ claiming
    async def _claim_next(self) -> Any | None:
        failures = 0
        while not self._shutdown.is_set():
            try:
                claimed = await self.store.claim(self.worker_id)
            except Exception as exc:
                # Database unreachable: keep trying, but log the outage, not every retry.
                failures += 1
                if failures == 1:
                    log.exception("claim failed; retrying every second until it works")
                elif failures % 60 == 0:
                    log.warning("claim still failing after %d tries: %s", failures, exc)
                await self._sleep(1.0)
                continue
            if failures:
                log.info("database reachable again after %d failed claim(s)", failures)
                failures = 0
            if claimed is not None:
                return claimed
            if self.once:
                return None
            await self._sleep(POLL_S * random.uniform(0.7, 1.3))
        return None

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._shutdown.wait(), timeout=seconds)

    # ------------------------------------------------------------------ one job
    async def _process(self, claimed: Any) -> None:
        job = claimed.job
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
            content=claimed.content.data,
            styles=[(image.data, weight) for image, weight in claimed.styles],
            size=params.size,
            preset=params.preset,
            style_strength=params.style_strength,
            preserve_colors=params.preserve_colors,
            init=params.init,
            seed=params.seed,
        )
        stop = StopFlag()
        relay = ProgressRelay(
            preview_interval_s=PREVIEW_INTERVAL_S,
            on_step=lambda p: maybe_crash(params.seed, int(p.step)),
        )
        self._job_id, self._stop = job.id, stop
        if job.cancel_requested:
            stop.set("cancel")
        try:
            engine = asyncio.create_task(
                asyncio.to_thread(run_job, spec, self.options, callback=relay, should_stop=stop)
            )
            watcher = asyncio.create_task(self._watch(job.id, relay, stop, engine))
            try:
                outcome = await asyncio.shield(engine)
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            await self._record(job.id, outcome, stop)
        finally:
            self._job_id, self._stop = None, None

    async def _watch(
        self, job_id: int, relay: ProgressRelay, stop: StopFlag, engine: asyncio.Task[Any]
    ) -> None:
        """While the engine runs: cancel checks, throttled progress, shutdown decisions."""
        last_write = time.monotonic()
        while not engine.done():
            await asyncio.sleep(CANCEL_CHECK_S)
            try:
                if not stop() and await self.store.is_cancel_requested(job_id):
                    log.info("job %d: cancel requested", job_id)
                    stop.set("cancel")
                if self._shutdown.is_set() and not stop():
                    snap = relay.latest
                    eta = snap.eta_s if snap is not None else None
                    if eta is None or eta > self.finish_grace_s:
                        log.info("job %d: stopping it to requeue (shutdown)", job_id)
                        stop.set("shutdown")
                if time.monotonic() - last_write >= PROGRESS_WRITE_S:
                    last_write = time.monotonic()
                    await self._write_progress(job_id, relay, stop)
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

    async def _write_progress(self, job_id: int, relay: ProgressRelay, stop: StopFlag) -> None:
        snap, preview = relay.take()
        if snap is None:
            return
        owned = await self.store.report_progress(
            job_id,
            self.worker_id,
            scale=snap.scale,
            scales=snap.scales,
            step=snap.step,
            total=snap.total_steps,
            eta_s=snap.eta_s,
            preview_jpeg=preview.jpeg if preview else None,
            preview_size=(preview.width, preview.height) if preview else None,
        )
        if not owned:
            self._lost(job_id, stop)

    def _lost(self, job_id: int, stop: StopFlag) -> None:
        if not stop():
            log.warning("job %d is no longer ours (requeued as stale?); abandoning it", job_id)
        stop.set("lost")

    async def _record(self, job_id: int, outcome: Outcome, stop: StopFlag) -> None:
        store, wid = self.store, self.worker_id
        if outcome.kind == "succeeded":
            assert outcome.png is not None
            ok = await _retry(
                lambda: store.complete(
                    job_id,
                    wid,
                    outcome.png,
                    outcome.width,
                    outcome.height,
                    outcome.elapsed_s,
                    notes=outcome.notes,
                )
            )
            log.info(
                "job %d succeeded: %dx%d, %d steps in %.1f s on %s%s",
                job_id,
                outcome.width,
                outcome.height,
                outcome.steps,
                outcome.elapsed_s,
                outcome.device,
                "" if ok else " (but it was no longer ours; result dropped)",
            )
            self.jobs_done += 1
        elif outcome.kind == "failed":
            assert outcome.error_code is not None and outcome.error_message is not None
            await _retry(lambda: store.fail(job_id, wid, outcome.error_code, outcome.error_message))
            log.info("job %d failed: %s", job_id, outcome.error_code)
        elif stop.reason == "shutdown":
            await _retry(lambda: store.requeue(job_id, wid))
            log.info("job %d requeued (executor shutting down)", job_id)
        elif stop.reason == "lost":
            log.info("job %d abandoned", job_id)
        else:
            await _retry(lambda: store.mark_cancelled(job_id, wid))
            log.info("job %d cancelled", job_id)

    # ------------------------------------------------------------------ background
    async def _background(self) -> None:
        """Heartbeats, the stale-job requeue and the orphan check, until cancelled."""
        interval = self.settings.heartbeat_interval_s
        requeue_every = max(0.5, self.settings.stale_after_s / 2)
        next_requeue = time.monotonic() + requeue_every * random.uniform(0.2, 1.0)
        while True:
            try:
                job_id, stop = self._job_id, self._stop
                owned = await self.store.heartbeat(
                    self.worker_id, job_id, host=self.host, pid=self.pid
                )
                if job_id is not None and stop is not None and not owned:
                    self._lost(job_id, stop)
                if time.monotonic() >= next_requeue:
                    next_requeue = time.monotonic() + requeue_every * random.uniform(0.8, 1.2)
                    await self._requeue_stale()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("heartbeat failed; retrying")
            if not self._shutdown.is_set() and self._orphaned():
                self.request_shutdown()
            await asyncio.sleep(interval)

    def _orphaned(self) -> bool:
        """True when the supervisor that started this process has died (we were reparented)."""
        parent = os.environ.get(PARENT_PID_ENV)
        if parent and str(os.getppid()) != parent:
            log.warning("supervisor (pid %s) is gone; shutting down", parent)
            return True
        return False

    async def _requeue_stale(self) -> None:
        actions = await self.store.requeue_stale(
            self.settings.stale_after_s, max_crashes=self.settings.max_crashes
        )
        for action in actions:
            log.warning(
                "job %d %s: executor %s went silent (crashes: %d)",
                action.job_id,
                action.action,
                action.worker_id,
                action.crashes,
            )


async def _retry(call: Any, attempts: int = 5, delay_s: float = 0.5) -> bool:
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


def _configure_logging(settings: Settings, worker_id: str) -> None:
    logging.basicConfig(
        level=settings.log_level,
        stream=sys.stderr,
        format=f"%(asctime)s {worker_id.replace('%', '%%')} %(levelname)s %(name)s: %(message)s",
    )


def _safe_error(exc: BaseException, settings: Settings) -> str:
    """An error text with the database password masked (URLs can carry one)."""
    text = f"{type(exc).__name__}: {exc}"
    try:
        from sqlalchemy.engine import make_url

        url = make_url(settings.database_url)
        if url.password:
            text = text.replace(url.password, "***")
    except Exception:
        pass
    return text
