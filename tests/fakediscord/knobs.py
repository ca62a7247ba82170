"""The fake's realism knobs: injected answers, rate limits, chaos and the after-handler hook
(mixed into `FakeDiscord`; they act on its `faults` and `handled_hooks`)."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from typing import Any

from .faults import Chaos, Faults, Injection, RateLimit, Reply
from .records import RecordedCall


class KnobsMixin:
    faults: Faults
    handled_hooks: list[Callable[[RecordedCall], None]]

    def inject(
        self,
        method: str,
        path: str,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> Injection:
        """Answer the next `times` calls to `method path` (regex over the REST-relative path)
        with `status`/`body`. A 429 gets retry-after headers when `body` has `retry_after`."""
        hdrs = dict(headers or {})
        if status == 429:
            hdrs.setdefault("Via", "1.1 google")
            given = dict(body or {})
            retry = float(given.get("retry_after", 0.05))
            body = {"message": "You are being rate limited.", "retry_after": retry, "global": False}
            body.update(given)
            hdrs.setdefault("Retry-After", str(max(1, round(retry))))
            hdrs.setdefault("X-RateLimit-Remaining", "0")
            hdrs.setdefault("X-RateLimit-Limit", "5")
            hdrs.setdefault("X-RateLimit-Reset-After", str(retry))
            hdrs.setdefault("X-RateLimit-Reset", f"{time.time() + retry:.3f}")
            hdrs.setdefault("X-RateLimit-Bucket", "fake-injected")
        inj = Injection(method.upper(), re.compile(path), Reply(status, body, hdrs), times)
        self.faults.injections.append(inj)
        return inj

    def rate_limit(
        self,
        method: str,
        path: str,
        *,
        limit: int,
        window_s: float,
        per_path: bool = True,
        is_global: bool = False,
        advertise: bool = True,
    ) -> RateLimit:
        """Allow `limit` calls per `window_s` to `method path` (regex); more answer 429.

        Buckets are per distinct path unless `per_path=False`. With `advertise=False` successes
        carry no X-RateLimit headers, so discord.py cannot pre-empt and really gets 429s.
        """
        rl = RateLimit(
            method.upper(), re.compile(path), limit, window_s, per_path, is_global, advertise
        )
        self.faults.rate_limits.append(rl)
        return rl

    def chaos(
        self,
        rate: float | None = 0.1,
        kinds: tuple[str, ...] | list[str] = ("429", "500", "reset"),
        *,
        seed: int | None = None,
        paths: str | None = None,
        methods: tuple[str, ...] | list[str] | None = None,
        after: bool = False,
        retry_after: float = 0.05,
        is_global: bool = False,
        cloudflare: bool = False,
        limit: int | None = None,
    ) -> Chaos | None:
        """Answer a share `rate` of matching REST calls with a random fault from `kinds`:
        "429" (retry_after, X-RateLimit-* and Via headers; `is_global` makes it global,
        `cloudflare=True` drops Via so discord.py raises HTTPException 429 instead of
        retrying), a 5xx such as "500" (JSON body; discord.py retries 500/502/504 after
        1, 3, 5, 7 s and raises DiscordServerError after 5 tries, "503" at once) or "reset"
        (TCP RST, no answer: aiohttp.ClientOSError ECONNRESET, not retried by discord.py).
        `after=True`: 5xx and resets strike after the handler ran (the message is created or
        edited, the bot sees an error). `paths` (regex, full match over the REST-relative
        path; default every route except login, gateway discovery and command sync),
        `methods` (default all), `seed` (random.Random), `limit` (most faults in all).
        Each fault is noted on its call (`call.note` starts "chaos ..."; a reset records
        status 0) and listed in the returned Chaos's `.faults` / `.counts()`.
        `fake.chaos(None)` (or rate 0) turns it off."""
        if rate is None or rate <= 0:
            self.faults.chaos = None
            return None
        self.faults.chaos = Chaos(
            rate=rate,
            kinds=tuple(str(k) for k in kinds),
            rng=random.Random(seed),
            paths=re.compile(paths) if paths is not None else None,
            methods=frozenset(m.upper() for m in methods) if methods is not None else None,
            after=after,
            retry_after=retry_after,
            is_global=is_global,
            cloudflare=cloudflare,
            limit=limit,
        )
        return self.faults.chaos

    def on_handled(self, hook: Callable[[RecordedCall], None]) -> Callable[[], None]:
        """Call `hook(call)` synchronously after each REST handler ran and before its answer
        is sent (`call.status`/`.response` already set, e.g. the created message); returns a
        function that removes the hook. For killing a client at the exact moment its request
        took effect but before it heard back (exactly-once tests)."""
        self.handled_hooks.append(hook)
        return lambda: self.handled_hooks.remove(hook) if hook in self.handled_hooks else None
