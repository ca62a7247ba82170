"""Spawn and supervise N `nst-bot executor` processes (used by `nst-bot run`).

This module only starts processes: it must never import torch, because it runs inside the
Discord process. Crashed executors are restarted with exponential back-off, the store's
stale-job requeue runs periodically (so a job whose executor was killed is picked up again even
when no other executor is alive to notice), and `stop()` ends the children with SIGTERM, then
SIGKILL after a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import signal
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from bot.executor.identity import SESSION_ENV
from bot.executor.settings import SECRET_ENV
from bot.executor.stale import requeue_stale
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.store.ports import ExecutorStore

log = logging.getLogger(__name__)

# Settings a child executor needs; passed through the environment rather than argv so that a
# database password never shows up in `ps`. The Discord token is deliberately not among them
# (and the child builds its settings with `executor_settings`, which skips it in `.env` too).
CHILD_SETTINGS = (
    "database_url",
    "data_dir",
    "device",
    "weights",
    "bf16",
    "engine_threads",
    "default_size",
    "max_size",
    "default_preset",
    "heartbeat_interval_s",
    "stale_after_s",
    "max_crashes",
    "max_image_pixels",
    "log_level",
    "executor_finish_grace_s",
)
PARENT_PID_ENV = "NST_EXECUTOR_PARENT_PID"


def child_env(
    settings: Settings, base: Mapping[str, str] | None = None, *, session: str | None = None
) -> dict[str, str]:
    """Environment for an executor child: `base` plus the settings it needs, minus secrets;
    `session` names this supervisor run (crash accounting, `bot.store.recovery`)."""
    env = dict(os.environ if base is None else base)
    for name in [n for n in env if n.upper() in SECRET_ENV]:
        del env[name]
    for name in CHILD_SETTINGS:
        value = getattr(settings, name, None)
        if value is not None:
            env[name.upper()] = str(value)
    env[PARENT_PID_ENV] = str(os.getpid())
    if session is not None:
        env[SESSION_ENV] = session
    return env


def backoff_delay(failures: int, base_s: float, max_s: float) -> float:
    """Exponential back-off: base, 2·base, 4·base … capped at `max_s` (failures ≥ 1)."""
    return min(max_s, base_s * 2.0 ** max(0, failures - 1))


@dataclass
class _Slot:
    index: int
    worker_id: str
    proc: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    failures: int = 0
    starts: int = 0
    task: asyncio.Task[None] | None = None
    history: list[int] = field(default_factory=list)  # exit codes, newest last


class Supervisor:
    """Keeps `count` executor processes alive until `stop()`.

    `store` is an open `bot.store` store used for the periodic stale-job requeue; when None,
    the supervisor opens its own from `settings.database_url` (and closes it on stop).
    """

    def __init__(
        self,
        settings: Settings,
        count: int,
        *,
        store: ExecutorStore | None = None,
        host: str | None = None,
        env: Mapping[str, str] | None = None,
        output: IO[bytes] | Path | None = None,
        grace_s: float | None = None,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 60.0,
        stable_after_s: float = 60.0,
        requeue_interval_s: float | None = None,
    ) -> None:
        self.settings = settings
        self.count = count
        self.host = host or socket.gethostname().split(".")[0] or "host"
        if grace_s is None:
            grace_s = settings.executor_grace_s
        self.grace_s = grace_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.stable_after_s = stable_after_s
        self.requeue_interval_s = requeue_interval_s or max(0.5, settings.stale_after_s / 2)
        # Every executor of this run shares it: if the whole run dies (the runner was killed,
        # the host restarted), no executor of it outlives a job, so no crash is counted.
        self.session = f"sup:{secrets.token_hex(8)}"
        self._env = child_env(settings, env, session=self.session)
        self._output = output
        self._output_file: IO[bytes] | None = None
        self._store = store
        self._own_store = False
        self._slots = [_Slot(i, f"{self.host}-{i + 1}") for i in range(count)]
        self._stopping = asyncio.Event()
        self._requeue_task: asyncio.Task[None] | None = None
        self.restarts = 0

    # ----------------------------------------------------------------- public API
    async def start(self) -> None:
        """Spawn the executors and the background tasks; returns once all are spawned."""
        if isinstance(self._output, Path):
            self._output_file = self._output.open("ab")
        for slot in self._slots:
            await self._spawn(slot)
            slot.task = asyncio.create_task(self._watch(slot), name=f"supervise-{slot.worker_id}")
        self._requeue_task = asyncio.create_task(self._requeue_loop(), name="stale-requeue")
        log.info("supervising %d executor(s): %s", self.count, ", ".join(self.worker_ids()))

    async def stop(self) -> None:
        """SIGTERM every executor, SIGKILL those still alive after the grace period, and wait."""
        self._stopping.set()
        if self._requeue_task:
            self._requeue_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._requeue_task
        await self._terminate_all()
        # The watchers return by themselves now that `_stopping` is set; one that was in the
        # middle of a restart may have started a process after the first pass, so end that too.
        tasks = [s.task for s in self._slots if s.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=self.grace_s)
        await self._terminate_all()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._own_store and self._store is not None:
            await self._store.close()
            self._store = None
        if self._output_file:
            self._output_file.close()
            self._output_file = None

    async def _terminate_all(self) -> None:
        procs = [s.proc for s in self._slots if s.proc and s.proc.returncode is None]
        if not procs:
            return
        for proc in procs:
            _signal(proc, signal.SIGTERM)
        waits = [asyncio.create_task(p.wait()) for p in procs]
        _, pending = await asyncio.wait(waits, timeout=self.grace_s)
        if pending:
            log.warning(
                "%d executor(s) did not stop within EXECUTOR_GRACE_S (%g s); killing them",
                len(pending),
                self.grace_s,
            )
            killed = [s for s in self._slots if s.proc in procs and s.proc.returncode is None]
            for slot in killed:
                _signal(slot.proc, signal.SIGKILL)  # type: ignore[arg-type]
            await asyncio.gather(*waits)
            # Our own shutdown killed them, not their jobs: requeue those without a crash.
            for slot in killed:
                await self._recover(slot, crashed=False)

    def alive(self) -> int:
        """How many executor processes are running right now."""
        return sum(1 for s in self._slots if s.proc is not None and s.proc.returncode is None)

    def pids(self) -> list[int | None]:
        """Current process id per slot (None while a slot waits to restart)."""
        return [
            s.proc.pid if s.proc is not None and s.proc.returncode is None else None
            for s in self._slots
        ]

    def worker_ids(self) -> list[str]:
        """The executor ids, one per slot (`host-1`, `host-2` …)."""
        return [s.worker_id for s in self._slots]

    # ----------------------------------------------------------------- internals
    def _argv(self, slot: _Slot) -> list[str]:
        return [sys.executable, "-m", "bot.cli", "executor", "--worker-id", slot.worker_id]

    async def _spawn(self, slot: _Slot) -> None:
        # A Path was opened by start() as `_output_file`; a stream is used as it is.
        out = self._output_file if isinstance(self._output, Path) else self._output
        slot.proc = await asyncio.create_subprocess_exec(
            *self._argv(slot),
            env=self._env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT if out is not None else None,
            # Own session: a Ctrl-C in the terminal reaches only the runner, which then stops
            # the executors in order instead of all of them dying mid-write at once.
            start_new_session=True,
        )
        slot.started_at = time.monotonic()
        slot.starts += 1
        log.info("executor %s started (pid %d)", slot.worker_id, slot.proc.pid)

    async def _watch(self, slot: _Slot) -> None:
        while not self._stopping.is_set():
            assert slot.proc is not None
            code = await slot.proc.wait()
            slot.history.append(code)
            if self._stopping.is_set():
                return
            if code != 0:
                # It died while this supervisor lives: its job's fault or not, it is not the
                # whole service's, so the crash counts (poison rule). Give the job back now.
                await self._recover(slot, crashed=True)
            lived = time.monotonic() - slot.started_at
            slot.failures = 1 if lived >= self.stable_after_s else slot.failures + 1
            delay = backoff_delay(slot.failures, self.backoff_base_s, self.backoff_max_s)
            log.warning(
                "executor %s exited with %s after %.1f s; restarting in %.1f s",
                slot.worker_id,
                _describe_exit(code),
                lived,
                delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            if self._stopping.is_set():
                return
            try:
                await self._spawn(slot)
            except OSError:
                log.exception("could not start executor %s", slot.worker_id)
                slot.proc = _ExitedProcess()  # type: ignore[assignment]
                continue
            self.restarts += 1

    async def _recover(self, slot: _Slot, *, crashed: bool) -> None:
        """Give back the job of a slot's dead executor (only if that process held the id)."""
        pid = slot.proc.pid if slot.proc is not None else None
        try:
            store = await self._get_store()
            actions = await store.recover_worker(
                slot.worker_id, pid=pid, crashed=crashed, max_crashes=self.settings.max_crashes
            )
        except Exception:
            log.exception("could not give back the job of executor %s", slot.worker_id)
            return
        for action in actions:
            log.warning(
                "job %s %s: executor %s %s (crashes: %d)",
                action.job_id,
                action.action,
                slot.worker_id,
                "died" if crashed else "was killed at shutdown",
                action.crashes,
            )

    async def _requeue_loop(self) -> None:
        while True:
            # Jitter so several runners on one database don't requeue in lockstep.
            await asyncio.sleep(self.requeue_interval_s * random.uniform(0.8, 1.2))
            try:
                await requeue_stale(await self._get_store(), self.settings)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("stale-job requeue failed; will retry")

    async def _get_store(self) -> ExecutorStore:
        if self._store is None:
            from bot.store import Store

            self._store = await Store.from_settings(self.settings)
            self._own_store = True
        return self._store


class _ExitedProcess:
    """Stand-in for a process that could not be started; `wait()` returns at once."""

    returncode = -1
    pid = -1

    async def wait(self) -> int:
        return -1


def _signal(proc: asyncio.subprocess.Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"
