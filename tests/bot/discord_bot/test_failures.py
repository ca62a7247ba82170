"""Classifying delivery failures and the backoff between attempts (the HTTP cases run end to
end against the fake Discord in test_delivery_faults.py)."""

from __future__ import annotations

import aiohttp
import discord
import pytest

from bot.discord_bot.failures import (
    REASON_LIMIT,
    backoff_s,
    describe,
    is_transient,
    may_have_posted,
    retry_after_s,
)


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (discord.RateLimited(120.0), True),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), True),
        (aiohttp.ServerDisconnectedError(), True),
        (ConnectionResetError(104, "reset"), True),
        (TimeoutError(), True),
        (ValueError("a bug"), False),
        (KeyError("job"), False),
    ],
)
def test_transient_or_not(exc, transient):
    assert is_transient(exc) is transient


def test_a_post_may_have_happened_unless_discord_refused_it():
    assert may_have_posted(aiohttp.ClientOSError(104, "reset"))  # the answer was lost
    assert may_have_posted(TimeoutError())
    assert not may_have_posted(discord.RateLimited(5.0))  # refused before sending


def test_retry_after_from_a_rate_limit():
    assert retry_after_s(discord.RateLimited(42.5)) == 42.5
    assert retry_after_s(OSError("reset")) is None


def test_reasons_are_specific_and_carry_no_secrets():
    token = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OTA6c2VjcmV0"
    exc = aiohttp.ClientOSError(104, f"reset while calling /webhooks/123/{token}/messages")
    reason = describe(exc)
    assert "connection to Discord failed" in reason and "ClientOSError" in reason
    assert token not in reason
    assert "rate limited" in describe(discord.RateLimited(90.0)) and "90 s" in describe(
        discord.RateLimited(90.0)
    )
    assert describe(TimeoutError()) == "timed out talking to Discord"
    assert len(describe(ValueError("x" * 5000))) == REASON_LIMIT


def test_backoff_doubles_up_to_the_cap_with_jitter_taken_off():
    fixed = [backoff_s(n, 5.0, 600.0, rand=lambda: 0.0) for n in range(1, 10)]
    assert fixed == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 600.0, 600.0]
    jittered = backoff_s(3, 5.0, 600.0, rand=lambda: 1.0)
    assert jittered == pytest.approx(15.0)  # at most a quarter off
    assert backoff_s(10_000, 5.0, 600.0, rand=lambda: 0.0) == 600.0  # no overflow
