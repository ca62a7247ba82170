"""Settling web jobs: a finished browser's job has nowhere to be posted, so its delivery is
recorded as "none" (the job page shows the outcome) and the metrics hear of it once.

The web face sweeps the store for finished web jobs whose delivery is due
(`store.lease_deliveries(web=True)`), so jobs that finished while no web face was up (a
restart, a crash, an executor that kept working while the bot was down) are settled too, and
with several bot processes each job is leased, and counted, by one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable

from bot.store import Job, Store

log = logging.getLogger(__name__)

SWEEP_LIMIT = 50  # jobs settled per sweep; the rest wait for the next one
LEASE_S = 30.0


def holder_name() -> str:
    """The delivery holder of this process' web face (unique per host and process)."""
    return f"web:{socket.gethostname()[:80]}:{os.getpid()}"


class Settler:
    """Settles finished web jobs, every `interval_s` and whenever asked (`poke`)."""

    def __init__(
        self,
        store: Store,
        *,
        interval_s: float = 1.0,
        on_finished: Callable[[Job], None] | None = None,
    ) -> None:
        self.store = store
        self.interval_s = interval_s
        self.on_finished = on_finished
        self.holder = holder_name()
        self._wake = asyncio.Event()

    def poke(self) -> None:
        """A web job was seen finished: sweep now rather than at the next tick."""
        self._wake.set()

    async def run(self) -> None:
        """Forever (cancel to stop): sweep, then wait for the interval or a poke."""
        while True:
            try:
                await self.sweep()
            except Exception as exc:  # the database may be down for a moment: next sweep
                log.warning("settling web jobs failed: %s", type(exc).__name__)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)

    async def sweep(self) -> int:
        """Settle the web jobs that are due now; returns how many."""
        settled = 0
        while True:
            jobs = await self.store.lease_deliveries(
                self.holder, limit=SWEEP_LIMIT, lease_s=LEASE_S, web=True
            )
            for job in jobs:
                if await self.store.mark_delivered(job.id, self.holder, None, None, "none"):
                    settled += 1
                    if self.on_finished is not None:
                        self.on_finished(job)
            if len(jobs) < SWEEP_LIMIT:
                return settled
