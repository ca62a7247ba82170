"""The supervisor: the child's environment and back-off; with real child processes, restart
after kill -9, back-off, clean stop; and it never imports torch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.executor.supervisor import PARENT_PID_ENV, Supervisor, backoff_delay, child_env
from bot.settings import Settings
from bot.store import JobStatus, Store
from tests.bot.executor.conftest import all_finished, executor_env, submit_many, wait_for


def _settings(url: str, **changes: object) -> Settings:
    values: dict = {"device": "cpu", "heartbeat_interval_s": 0.3, "stale_after_s": 2.0}
    values.update(changes)
    return Settings(_env_file=None, database_url=url, **values)


class ScriptSupervisor(Supervisor):
    """Supervises a stand-in Python script instead of an executor (no torch, instant start)."""

    def __init__(self, *args: object, script: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.script = script

    def _argv(self, slot):
        return [sys.executable, "-c", self.script]


async def _workers(store: Store) -> set[str]:
    return {w.id for w in await store.workers()}


async def _has(store: Store, ids: set[str]) -> bool:
    return ids <= await _workers(store)


async def test_supervisor_restarts_a_killed_executor_and_stops_cleanly(
    sqlite_url, store, inputs, tmp_path: Path
):
    log = tmp_path / "executors.log"
    sup = Supervisor(
        _settings(sqlite_url),
        2,
        host="box",
        env=executor_env(sqlite_url),
        output=log,
        backoff_base_s=0.2,
    )
    await sup.start()
    try:
        assert sup.worker_ids() == ["box-1", "box-2"]
        assert sup.alive() == 2
        await wait_for(lambda: _has(store, {"box-1", "box-2"}), 60, "executors to register")
        victim = sup.pids()[0]
        assert victim is not None
        os.kill(victim, signal.SIGKILL)

        async def replaced() -> bool:
            pid = sup.pids()[0]
            return sup.alive() == 2 and pid is not None and pid != victim

        await wait_for(replaced, 30, "the supervisor to restart box-1")
        assert sup.restarts == 1

        async def registered() -> bool:
            # Past start-up (imports take seconds on a busy host): SIGTERM now means a clean
            # stop, which the end of this test checks.
            return any(w.id == "box-1" and w.pid == sup.pids()[0] for w in await store.workers())

        await wait_for(registered, 90, "the new box-1 to register")
        assert sup._slots[0].history == [-signal.SIGKILL]

        # The pool still works after the restart.
        ids = [j.id for j in await submit_many(store, inputs, 2)]
        done = await wait_for(lambda: all_finished(store, ids), 90, "two jobs")
        assert {j.status for j in done.values()} == {JobStatus.SUCCEEDED}, log.read_text()
        assert {j.worker_id for j in done.values()} <= {"box-1", "box-2"}
    finally:
        await sup.stop()
    assert sup.alive() == 0
    # Stopped with SIGTERM: both exited 0 and unregistered themselves.
    assert [s.history[-1] for s in sup._slots] == [0, 0], log.read_text()
    assert not (await _workers(store)) & {"box-1", "box-2"}
    assert "DISCORD_TOKEN" not in log.read_text()


async def test_crashing_child_is_restarted_with_growing_back_off(sqlite_url):
    sup = ScriptSupervisor(
        _settings(sqlite_url), 1, script="raise SystemExit(3)", backoff_base_s=0.05
    )
    await sup.start()
    try:
        await wait_for(_ready(lambda: sup.restarts >= 4), 30, "four restarts")
    finally:
        await sup.stop()
    history = sup._slots[0].history
    assert history[:4] == [3, 3, 3, 3]
    assert sup._slots[0].failures >= 4  # never "stable", so the delay kept doubling


async def test_stop_kills_a_child_that_ignores_sigterm(sqlite_url, tmp_path: Path):
    script = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(120)\n"
    )
    out = tmp_path / "child.log"
    sup = ScriptSupervisor(_settings(sqlite_url), 1, script=script, grace_s=0.5, output=out)
    await sup.start()
    # Wait until the child has installed its handler, so SIGTERM really is ignored.
    await wait_for(_ready(lambda: "ready" in out.read_text()), 20, "the child to start")
    await sup.stop()
    assert sup.alive() == 0
    assert sup._slots[0].history == [-signal.SIGKILL]


async def test_supervisor_requeues_stale_jobs_even_with_no_executor(sqlite_url, store, inputs):
    job = (await submit_many(store, inputs, 1))[0]
    claimed = await store.claim("ghost")  # an executor that then vanished without a trace
    assert claimed is not None and claimed.job.id == job.id
    sup = Supervisor(_settings(sqlite_url, stale_after_s=0.5), 0, requeue_interval_s=0.2)
    await sup.start()
    try:

        async def requeued():
            current = await store.get_job(job.id)
            return current if current and current.status == JobStatus.QUEUED else None

        current = await wait_for(requeued, 20, "the stale job to be requeued")
    finally:
        await sup.stop()
    assert current.crashes == 1 and current.worker_id in (None, "ghost")


def _ready(predicate):
    async def check():
        return predicate()

    return check


def test_bf16_setting_accepts_auto_true_false_only():
    assert Settings(_env_file=None, bf16="false").bf16 == "false"
    with pytest.raises(ValueError, match="bf16"):
        Settings(_env_file=None, bf16="fp16")
    env = child_env(Settings(_env_file=None, bf16="true"), {})
    assert env["BF16"] == "true"


def test_child_env_drops_the_token_and_passes_settings():
    settings = Settings(
        _env_file=None,
        discord_token="secret-token-value",
        database_url="sqlite+aiosqlite:////tmp/x.db",
        heartbeat_interval_s=0.5,
    )
    env = child_env(settings, {"DISCORD_TOKEN": "secret-token-value", "PATH": "/bin"})
    assert "DISCORD_TOKEN" not in env
    assert "secret-token-value" not in " ".join(env.values())
    assert env["DATABASE_URL"] == "sqlite+aiosqlite:////tmp/x.db"
    assert env["HEARTBEAT_INTERVAL_S"] == "0.5"
    assert env["PATH"] == "/bin"
    assert env[PARENT_PID_ENV].isdigit()
    # the child parses what the parent wrote back into the same settings
    child = Settings(_env_file=None, **{k.lower(): v for k, v in env.items() if k != "PATH"})
    assert child.heartbeat_interval_s == 0.5 and child.token is None


def test_backoff_doubles_and_caps():
    assert [backoff_delay(n, 1.0, 10.0) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_supervisor_never_imports_torch():
    code = (
        "import sys, bot.executor.supervisor, bot.executor.testhooks\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
