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
from typing import TYPE_CHECKING

from bot.executor.engine_call import INTERNAL_MESSAGE, EngineOptions
from bot.executor.identity import executor_session, worker_id_conflict
from bot.executor.job_run import JobRun, retry
from bot.executor.stale import requeue_stale
from bot.executor.supervisor import PARENT_PID_ENV
from bot.logs import quiet_database_loggers
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.store.ports import ExecutorStore
    from bot.store.types import ClaimedJob

log = logging.getLogger("bot.executor")

POLL_S = 0.1  # idle claim poll; jittered, so pickup latency stays well under 250 ms
EXIT_OK, EXIT_CONFIG = 0, 2


def main(settings: Settings, worker_id: str | None = None, once: bool = False) -> int:
    """Entry point of `nst-bot executor`; returns the process exit code."""
    worker_id = worker_id or f"{socket.gethostname().split('.')[0]}-{os.getpid()}"
    _configure_logging(settings, worker_id)
    # Until the loop installs its handlers (start-up can take seconds on a busy host), SIGTERM
    # ends the process cleanly instead of killing it: nothing has been claimed yet.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return asyncio.run(_amain(settings, worker_id, once))
    except KeyboardInterrupt:  # a signal before the loop installed its handlers
        return EXIT_OK


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


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

    def __init__(
        self, settings: Settings, store: ExecutorStore, worker_id: str, *, once: bool = False
    ) -> None:
        self.settings = settings
        self.store = store
        self.worker_id = worker_id
        self.once = once
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.session = executor_session()
        self.options = EngineOptions(
            device=None if settings.device == "auto" else settings.device,
            weights=settings.weights,
            max_size=settings.max_size,
            max_pixels=settings.max_image_pixels,
            bf16=settings.bf16,
        )
        self.finish_grace_s = settings.executor_finish_grace_s
        self._shutdown = asyncio.Event()
        self._signals = 0
        self._current: JobRun | None = None
        self.jobs_done = 0

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> int:
        """Warm up, then claim and run jobs until SIGTERM (or an empty queue with `once`)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_shutdown, sig)
        if self._orphaned():
            return EXIT_OK
        if not await self._register():
            return EXIT_CONFIG
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
                    await self._fail_internal(claimed.job.id, claimed.token)
        finally:
            background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await background
            with contextlib.suppress(Exception):
                await self.store.unregister_worker(self.worker_id)
        log.info("executor %s stopped after %d job(s)", self.worker_id, self.jobs_done)
        return EXIT_OK

    async def _register(self) -> bool:
        """Take over the worker id (refused while another live executor uses it); give back
        what this id's previous process left running, counting a crash only if it died alone."""
        problem = await worker_id_conflict(
            self.store,
            self.worker_id,
            host=self.host,
            pid=self.pid,
            stale_after_s=self.settings.stale_after_s,
        )
        if problem:
            log.error("%s", problem)
            return False
        actions = await self.store.register_worker(
            self.worker_id,
            host=self.host,
            pid=self.pid,
            session=self.session,
            max_crashes=self.settings.max_crashes,
        )
        for action in actions:
            log.warning(
                "job %d %s: this worker id's previous process died holding it (%s)",
                action.job_id,
                action.action,
                "counted as a crash" if action.crashed else "its whole service stopped; no crash",
            )
        return True

    async def _fail_internal(self, job_id: int, token: str | None) -> None:
        await retry(
            lambda: self.store.fail(
                job_id, self.worker_id, "internal_error", INTERNAL_MESSAGE, token=token
            )
        )

    def request_shutdown(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM/SIGINT: stop claiming; a running job finishes if nearly done, else requeues.

        A second signal stops the running job at once.
        """
        self._signals += 1
        if not self._shutdown.is_set():
            log.info("received %s: shutting down", signal.Signals(sig).name)
        self._shutdown.set()
        if self._current is not None and self._signals > 1:
            self._current.stop.set("shutdown")

    def _warm_up(self) -> str:
        # Load (and cache) the VGG once so the first job doesn't pay for it.
        import torch

        from nst_engine.device import select_device
        from nst_engine.vgg import load_encoder

        if self.settings.engine_threads:
            torch.set_num_threads(self.settings.engine_threads)
        load_encoder(self.options.weights, self.options.device, cache=self.options.encoders)
        return str(select_device(self.options.device))

    # ------------------------------------------------------------------ claiming
    async def _claim_next(self) -> ClaimedJob | None:
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
    async def _process(self, claimed: ClaimedJob) -> None:
        run = JobRun(
            claimed,
            store=self.store,
            worker_id=self.worker_id,
            options=self.options,
            shutting_down=self._shutdown.is_set,
            finish_grace_s=self.finish_grace_s,
        )
        self._current = run
        try:
            outcome = await run.run()
        finally:
            self._current = None
        if outcome.kind == "succeeded":
            self.jobs_done += 1

    # ------------------------------------------------------------------ background
    async def _background(self) -> None:
        """Heartbeats, the stale-job requeue and the orphan check, until cancelled."""
        interval = self.settings.heartbeat_interval_s
        requeue_every = max(0.5, self.settings.stale_after_s / 2)
        next_requeue = time.monotonic() + requeue_every * random.uniform(0.2, 1.0)
        while True:
            try:
                current = self._current
                owned = await self.store.heartbeat(
                    self.worker_id,
                    current.job_id if current else None,
                    host=self.host,
                    pid=self.pid,
                    token=current.token if current else None,
                )
                if current is not None and not owned:
                    current.lost()
                if time.monotonic() >= next_requeue:
                    next_requeue = time.monotonic() + requeue_every * random.uniform(0.8, 1.2)
                    await requeue_stale(self.store, self.settings)
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


def _configure_logging(settings: Settings, worker_id: str) -> None:
    logging.basicConfig(
        level=settings.log_level,
        stream=sys.stderr,
        format=f"%(asctime)s {worker_id.replace('%', '%%')} %(levelname)s %(name)s: %(message)s",
    )
    quiet_database_loggers()


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
