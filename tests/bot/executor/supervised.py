"""A supervisor as its own process, as `nst-bot run` would hold one (tests kill it).

python -m tests.bot.executor.supervised COUNT   → supervises COUNT executors named box-1 …
until SIGTERM; settings (DATABASE_URL, …) come from the environment.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from bot.executor.supervisor import Supervisor
from bot.settings import Settings


async def supervise(count: int) -> None:
    settings = Settings(_env_file=None)
    supervisor = Supervisor(settings, count, host="box", env=dict(os.environ))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await supervisor.start()
    print(f"supervising {supervisor.session}", flush=True)
    await stop.wait()
    await supervisor.stop()


if __name__ == "__main__":
    asyncio.run(supervise(int(sys.argv[1])))
