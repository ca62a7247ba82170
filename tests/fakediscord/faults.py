"""Injected failures, rate limits and random chaos, checked before a REST handler runs."""

from __future__ import annotations

import math
import random
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


# Not touched by chaos unless `paths` says so: login, gateway discovery and command sync.
CHAOS_SPARED = re.compile(
    r"/users/@me|/(oauth2/)?applications/@me|/gateway(/bot)?"
    r"|/applications/\d+(/guilds/\d+)?/commands(/\d+)?"
)


@dataclass
class ChaosFault:
    """One fault chaos chose for a call: `kind` "429", a 5xx status ("500", "503"...) or
    "reset"; `after`: the handler runs first (the create happens, the answer is lost)."""

    kind: str
    after: bool
    reply: Reply | None  # the error answer (None for a reset)

    def describe(self) -> str:
        return f"chaos {self.kind}" + (" after handling" if self.after else "")


@dataclass
class Chaos:
    """Answer a share `rate` of the matching REST calls with a fault drawn from `kinds`."""

    rate: float
    kinds: tuple[str, ...]
    rng: random.Random
    paths: re.Pattern[str] | None  # None: every route but CHAOS_SPARED
    methods: frozenset[str] | None  # None: every method
    after: bool = False  # 5xx and resets strike after the handler ran (429s never do)
    retry_after: float = 0.05
    is_global: bool = False
    cloudflare: bool = False  # 429 without Via: discord.py raises at once instead of retrying
    limit: int | None = None  # at most this many faults in all
    faults: list[tuple[ChaosFault, RecordedCall]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for kind in self.kinds:
            if kind not in ("429", "reset") and not (kind.isdigit() and 500 <= int(kind) < 600):
                raise ValueError(f"unknown chaos kind {kind!r}: use '429', '5xx' or 'reset'")

    def matches(self, call: RecordedCall) -> bool:
        if self.methods is not None and call.method not in self.methods:
            return False
        if self.paths is None:
            return not CHAOS_SPARED.fullmatch(call.path)
        return bool(self.paths.fullmatch(call.path))

    def pick(self, call: RecordedCall) -> ChaosFault | None:
        if self.limit is not None and len(self.faults) >= self.limit:
            return None
        if not self.matches(call) or self.rng.random() >= self.rate:
            return None
        kind = self.rng.choice(self.kinds)
        fault = ChaosFault(kind, self.after and kind != "429", self._reply(kind))
        self.faults.append((fault, call))
        return fault

    def counts(self) -> dict[str, int]:
        """How many faults of each kind (+ " after") were injected so far."""
        out: dict[str, int] = {}
        for fault, _call in self.faults:
            key = fault.kind + (" after" if fault.after else "")
            out[key] = out.get(key, 0) + 1
        return out

    def _reply(self, kind: str) -> Reply | None:
        if kind == "reset":
            return None
        if kind == "429":
            retry = self.retry_after
            headers = {
                "Retry-After": str(max(1, math.ceil(retry))),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry:.3f}",
                "X-RateLimit-Reset-After": f"{retry:.3f}",
                "X-RateLimit-Bucket": "fake-chaos",
                "X-RateLimit-Scope": "global" if self.is_global else "user",
            }
            if self.is_global:
                headers["X-RateLimit-Global"] = "true"
            if not self.cloudflare:
                headers["Via"] = "1.1 google"
            body = {
                "message": "You are being rate limited.",
                "retry_after": retry,
                "global": self.is_global,
                "code": 0,
            }
            return Reply(429, body, headers)
        status = int(kind)
        return Reply(status, {"message": f"{status}: fakediscord chaos", "code": 0})


class Faults:
    """The fake's list of injections and rate limits, and the chaos knob."""

    def __init__(self) -> None:
        self.injections: list[Injection] = []
        self.rate_limits: list[RateLimit] = []
        self.chaos: Chaos | None = None

    def chaos_pick(self, call: RecordedCall) -> ChaosFault | None:
        return self.chaos.pick(call) if self.chaos is not None else None

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
