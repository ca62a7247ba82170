"""Injected failures and rate limits, checked before a REST handler runs."""

from __future__ import annotations

import math
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .records import RecordedCall


@dataclass
class Reply:
    """An answer before it becomes an aiohttp response."""

    status: int
    body: Any = None  # JSON-able, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Injection:
    """Answer the next `times` calls matching `method` and `path` (regex, full match) with this."""

    method: str
    path: re.Pattern[str]
    reply: Reply
    times: int

    def matches(self, call: RecordedCall) -> bool:
        return (self.method in ("*", call.method)) and bool(self.path.fullmatch(call.path))


@dataclass
class RateLimit:
    """At most `limit` calls per `window_s` per bucket (each distinct path, or one shared bucket);
    the call over the limit gets a 429 with `retry_after` and discord.py's X-RateLimit headers."""

    method: str
    path: re.Pattern[str]
    limit: int
    window_s: float
    per_path: bool = True
    is_global: bool = False
    advertise: bool = True  # X-RateLimit headers on successes (discord.py then self-throttles)
    name: str = "fake-bucket"
    hits: dict[str, deque[float]] = field(default_factory=dict)
    limited: int = 0  # how many 429s it answered

    def matches(self, call: RecordedCall) -> bool:
        return (self.method in ("*", call.method)) and bool(self.path.fullmatch(call.path))

    def check(self, call: RecordedCall) -> tuple[Reply | None, dict[str, str]]:
        """(a 429 reply or None, headers to add to a successful answer)."""
        key = call.path if self.per_path else "*"
        now = call.time  # the arrival time tests see in `calls`
        q = self.hits.setdefault(key, deque())
        while q and now - q[0] >= self.window_s:
            q.popleft()
        if len(q) >= self.limit:
            retry = max(0.001, self.window_s - (now - q[0]))
            self.limited += 1
            headers = self._headers(0, retry)
            headers["Retry-After"] = str(math.ceil(retry))
            if self.is_global:
                headers["X-RateLimit-Global"] = "true"
            body = {
                "message": "You are being rate limited.",
                "retry_after": round(retry, 3),
                "global": self.is_global,
                "code": 0,
            }
            return Reply(429, body, headers), {}
        q.append(now)
        if not self.advertise:
            return None, {}
        reset_after = self.window_s - (now - q[0])
        return None, self._headers(self.limit - len(q), reset_after)

    def _headers(self, remaining: int, reset_after: float) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.name,
            "X-RateLimit-Scope": "shared" if not self.is_global else "global",
            # discord.py treats a 429 without Via as a Cloudflare ban and does not retry.
            "Via": "1.1 google",
        }


class Faults:
    """The fake's list of injections and rate limits."""

    def __init__(self) -> None:
        self.injections: list[Injection] = []
        self.rate_limits: list[RateLimit] = []

    def check(self, call: RecordedCall) -> tuple[Reply | None, dict[str, str]]:
        for inj in self.injections:
            if inj.times > 0 and inj.matches(call):
                inj.times -= 1
                call.note = "injected"
                return inj.reply, {}
        headers: dict[str, str] = {}
        for rl in self.rate_limits:
            if rl.matches(call):
                reply, extra = rl.check(call)
                if reply is not None:
                    call.note = f"rate limited ({rl.limit}/{rl.window_s}s)"
                    return reply, {}
                headers.update(extra)
        return None, headers
