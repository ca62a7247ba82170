"""The real `nst-bot run` as a child process against the fake Discord (settings via env only)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from tests.fakediscord import FakeDiscord


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class BotProcess:
    proc: asyncio.subprocess.Process
    port: int  # of the /healthz and /metrics endpoint
    log_path: Path  # stdout and stderr together

    @property
    def web_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def bot_env(fake: FakeDiscord, workdir: Path, port: int, **env: str) -> dict[str, str]:
    """The child's environment: ours, the fake's, a database and data dir in `workdir`."""
    return {
        **os.environ,
        **fake.env(),
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'nst.db'}",
        "DATA_DIR": str(workdir / "data"),
        "WEB_PORT": str(port),
        "COOLDOWN_S": "0",
        **env,
    }


async def start_bot(
    fake: FakeDiscord, workdir: Path, *, log_name: str = "bot.log", **env: str
) -> BotProcess:
    """Start `nst-bot run` in `workdir` with `env` added to the fake's, watched by the fake;
    output is appended to `workdir/log_name` (a restarted bot keeps one log)."""
    port = free_port()
    log_path = workdir / log_name
    with log_path.open("ab") as log:  # the child keeps its own handle
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            cwd=workdir,  # keep the repo's .env out of the child's settings
            env=bot_env(fake, workdir, port, **env),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    fake.watch(proc)
    return BotProcess(proc, port, log_path)


async def stop_bot(fake: FakeDiscord, bot: BotProcess, sig: int = signal.SIGTERM) -> int:
    """End a bot started by `start_bot` with `sig` (SIGKILL: a crash) and wait; its exit code."""
    fake.unwatch(bot.proc)  # the process ending from here on is expected
    if bot.proc.returncode is None:
        bot.proc.send_signal(sig)
    return await asyncio.wait_for(bot.proc.wait(), 60)


@contextlib.asynccontextmanager
async def bot_process(fake: FakeDiscord, workdir: Path, **env: str) -> AsyncIterator[BotProcess]:
    """Start `nst-bot run` in `workdir` (its database, data dir and log live there) with `env`
    added to the fake's; watched by the fake while inside, then SIGTERM and wait for the exit
    (`proc.returncode` afterwards)."""
    bot = await start_bot(fake, workdir, **env)
    try:
        yield bot
    finally:
        await stop_bot(fake, bot)
