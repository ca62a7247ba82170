"""Per-address limits on the web face: how many jobs one IP address may queue per window.

The store's per-user queue limit and cooldown apply per browser (a web user is a cookie), and
a new cookie is one request away, so those alone don't stop one address from minting
identities to flood the queue. This counts the jobs each address queued in a sliding window,
in memory (one web face per bot process; a restart forgets, which only errs towards letting
people in).

Behind a reverse proxy (`WEB_PUBLIC_URL` set and the request comes from loopback) the client
is the last address in `X-Forwarded-For`, which is the one the proxy itself saw.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from aiohttp import web

MAX_TRACKED = 10_000  # addresses remembered; the longest-idle ones are dropped beyond


def client_address(request: web.Request, *, behind_proxy: bool) -> str:
    """The address a request comes from (the proxy's client when behind our proxy)."""
    peer = request.remote or "unknown"
    if behind_proxy and _is_loopback(peer):
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1]
    return peer


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class SubmitLimit:
    """At most `limit` queued jobs per address in any `window_s` seconds."""

    def __init__(
        self, limit: int, window_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, address: str) -> float | None:
        """Seconds until `address` may queue again; None when it may now."""
        times = self._recent(address)
        if len(times) < self.limit:
            return None
        return max(0.0, times[0] + self.window_s - self.clock())

    def record(self, address: str) -> None:
        """`address` queued a job now."""
        self._recent(address).append(self.clock())
        self._seen.move_to_end(address)

    def _recent(self, address: str) -> deque[float]:
        times = self._seen.setdefault(address, deque())
        while len(self._seen) > MAX_TRACKED:
            self._seen.popitem(last=False)
        cutoff = self.clock() - self.window_s
        while times and times[0] <= cutoff:
            times.popleft()
        return times

    def message(self, wait_s: float) -> str:
        """What the page says to an address over its limit."""
        minutes = max(1, round(wait_s / 60))
        return (
            f"This network address has queued {self.limit} jobs in the last "
            f"{self.window_s / 60:g} minutes, the most the web playground takes; please try "
            f"again in about {minutes} min."
        )
