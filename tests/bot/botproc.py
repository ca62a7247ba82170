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


@contextlib.asynccontextmanager
async def bot_process(fake: FakeDiscord, workdir: Path, **env: str) -> AsyncIterator[BotProcess]:
    """Start `nst-bot run` in `workdir` (its database, data dir and log live there) with `env`
    added to the fake's; watched by the fake while inside, then SIGTERM and wait for the exit
    (`proc.returncode` afterwards)."""
    port = free_port()
    full_env = {
        **os.environ,
        **fake.env(),
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'nst.db'}",
        "DATA_DIR": str(workdir / "data"),
        "WEB_PORT": str(port),
        "COOLDOWN_S": "0",
        **env,
    }
    log_path = workdir / "bot.log"
    with log_path.open("wb") as log:  # the child keeps its own handle
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            cwd=workdir,  # keep the repo's .env out of the child's settings
            env=full_env,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    fake.watch(proc)
    try:
        yield BotProcess(proc, port, log_path)
    finally:
        fake.unwatch(proc)  # the process ending from here on is expected
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
