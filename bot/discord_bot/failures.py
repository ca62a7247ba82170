"""What a failed Discord call means for a delivery, and how long to wait before the next try.

Transient (worth another attempt later, with exponential backoff): Discord's 5xx (discord.py
has already retried 500/502/504 itself), 429s that discord.py gave up on (no `Via` header, or a
`retry_after` beyond its `max_ratelimit_timeout`), timeouts and lost connections (a reset
reaches callers as `aiohttp.ClientOSError`, an OSError that discord.py does not retry).
Anything else that escapes a delivery attempt (a 400, a database error, a bug) also counts as a
failed attempt: retries are bounded, so even an unforeseen error ends as `undeliverable` with
its reason instead of being retried forever. 403/404 are handled per destination by
`delivery.deliver` (next destination) and never reach this module.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import aiohttp
import discord

from bot.discord_bot.redact import redact

REASON_LIMIT = 300  # characters of a recorded reason (shown in /job, kept in the store)


def is_transient(exc: BaseException) -> bool:
    """True for failures that say nothing about the message itself (retry as it is)."""
    if isinstance(exc, discord.RateLimited | TimeoutError | aiohttp.ClientError | OSError):
        return True
    if isinstance(exc, discord.HTTPException):
        return exc.status == 429 or exc.status >= 500
    return False


def may_have_posted(exc: BaseException) -> bool:
    """Whether Discord may have created the message although the call failed: the request
    went out and no answer said otherwise (a lost connection, a timeout, a 5xx)."""
    if isinstance(exc, discord.RateLimited):
        return False  # refused before sending
    if isinstance(exc, discord.HTTPException):
        return exc.status >= 500
    return isinstance(exc, TimeoutError | aiohttp.ClientError | OSError)


def retry_after_s(exc: BaseException) -> float | None:
    """The wait Discord asked for, when it said (rate limits)."""
    if isinstance(exc, discord.RateLimited):
        return float(exc.retry_after)
    if isinstance(exc, discord.HTTPException) and exc.status == 429 and exc.response is not None:
        value = exc.response.headers.get("Retry-After")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None
    return None


def describe(exc: BaseException) -> str:
    """A short, specific, secret-free reason for logs, the store and `/job`."""
    if isinstance(exc, discord.RateLimited):
        text = f"rate limited by Discord (retry after {exc.retry_after:.0f} s)"
    elif isinstance(exc, discord.HTTPException):
        kind = "server error" if exc.status >= 500 else "refused"
        if exc.status == 429:
            kind = "rate limited"
        code = f", code {exc.code}" if exc.code else ""
        detail = f": {exc.text}" if exc.text else ""
        text = f"Discord {kind} ({exc.status}{code}){detail}"
    elif isinstance(exc, TimeoutError):
        text = "timed out talking to Discord"
    elif isinstance(exc, aiohttp.ClientError | OSError):
        text = f"connection to Discord failed ({type(exc).__name__}: {exc})"
    else:
        text = f"internal error ({type(exc).__name__}: {exc})"
    return redact(text)[:REASON_LIMIT]


def backoff_s(
    attempt: int, base_s: float, cap_s: float, *, rand: Callable[[], float] = random.random
) -> float:
    """Seconds before attempt `attempt + 1`: base × 2^(attempt-1), capped, with jitter.

    The jitter (a random share of up to a quarter, taken off) keeps jobs that failed together
    (a Discord outage) from all coming back in the same second.
    """
    exponent = min(max(attempt - 1, 0), 30)  # 2^30 × base is past any cap; no float overflow
    delay = min(cap_s, base_s * 2.0**exponent)
    return delay * (1.0 - 0.25 * rand())
