"""A bot process's hold on one job's delivery: who holds it, and keeping the lease alive.

The store hands a finished job's delivery to one holder at a time (`lease_deliveries`,
`lease_delivery`); every delivery write is fenced by the holder id, and a lease that is not
renewed expires, so another bot process (or this one after a restart) takes it over. The
holder id is unique per process: operators never choose it, so two processes cannot share one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator

from bot.store.ports import BotStore

log = logging.getLogger(__name__)


def holder_id() -> str:
    """`host-pid-random`: unique per bot process, readable in `nst-bot jobs`."""
    host = socket.gethostname()[:80] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(4)}"


class LeaseLost(Exception):
    """The lease expired and may be someone else's now: stop without posting or recording."""


class Lease:
    """The lease on `job_id` held by `holder`; renewed every third of `lease_s` while in use."""

    def __init__(self, store: BotStore, job_id: int, holder: str, lease_s: float) -> None:
        self.store = store
        self.job_id = job_id
        self.holder = holder
        self.lease_s = lease_s
        self.lost = False
        self.posting_to: str | None = None  # the destination of the post in flight, if any
        # Taken after the store granted the lease, so it errs on the early side.
        self._valid_until = time.monotonic() + lease_s

    def check(self) -> None:
        """Raise LeaseLost when the lease was taken over or may have expired (before a post)."""
        if self.lost or time.monotonic() >= self._valid_until:
            self.lost = True
            raise LeaseLost(f"job {self.job_id}: delivery lease lost")

    @contextlib.asynccontextmanager
    async def renewing(self) -> AsyncIterator[Lease]:
        """Keep the lease alive in the background while the body runs."""
        task = asyncio.create_task(self._renew(), name=f"nst-lease-{self.job_id}")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _renew(self) -> None:
        interval = self.lease_s / 3
        while True:
            await asyncio.sleep(interval)
            asked = time.monotonic()
            try:
                ok = await self.store.renew_delivery_lease(
                    self.job_id, self.holder, lease_s=self.lease_s
                )
            except Exception as exc:  # the database may be busy; the next renewal may work
                log.warning("job %d: lease renewal failed (%s)", self.job_id, type(exc).__name__)
                continue
            if not ok:
                log.warning("job %d: delivery lease taken over; stopping", self.job_id)
                self.lost = True
                return
            self._valid_until = asked + self.lease_s
