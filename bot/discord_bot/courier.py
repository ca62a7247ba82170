"""One delivery attempt of a leased job, and what the store is told afterwards.

`attempt` posts the job (`delivery.deliver`) under its lease, then records the outcome:
delivered; undeliverable when every destination refused for good or the job used up
`DELIVERY_MAX_ATTEMPTS`; otherwise pending again after an exponential backoff. It never
raises for a Discord or store error, so neither a bad delivery nor a poisoned job can stop the
watcher, and nothing is retried without an attempt being counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.discord_bot.delivery import Undeliverable, deliver
from bot.discord_bot.failures import (
    backoff_s,
    describe,
    is_transient,
    may_have_posted,
    retry_after_s,
)
from bot.discord_bot.lease import Lease, LeaseLost
from bot.store import Job
from bot.store.types import DeliveryTarget

if TYPE_CHECKING:
    from bot.discord_bot.client import NSTBot

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted by a bot shutdown; retried at once"
# Discord keeps a nonce for a few minutes: a post that may have happened is retried well
# inside that window, however long the backoff has grown.
NONCE_SAFE_RETRY_S = 60.0
NONCE_TARGETS = {DeliveryTarget.CHANNEL.value, DeliveryTarget.DM.value}


class Outcome(StrEnum):
    """How one attempt ended (the watcher counts them)."""

    DELIVERED = "delivered"
    RETRY = "retry"
    UNDELIVERABLE = "undeliverable"
    LEASE_LOST = "lease_lost"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt's end: `detail` is where it went (delivered) or why not."""

    outcome: Outcome
    detail: str
    retry_in_s: float | None = None  # RETRY: when the job is due again


async def attempt(bot: NSTBot, job: Job, lease: Lease) -> Attempt:
    """Deliver `job` under `lease` (just granted, kept renewed by the caller); returns the
    outcome; never raises but for cancellation."""
    settings = bot.settings
    holder = lease.holder
    if job.delivery.attempts > settings.delivery_max_attempts:
        # Earlier attempts ended without a word (the bot process died each time): stop here,
        # or a job that kills the bot would be leased forever.
        reason = f"gave up after {job.delivery.attempts - 1} attempts that never finished"
        return await _give_up(bot, job, holder, reason)
    try:
        via = await deliver(bot, job, lease)
        return Attempt(Outcome.DELIVERED, via)
    except LeaseLost as exc:
        log.info("%s", exc)
        return Attempt(Outcome.LEASE_LOST, str(exc))
    except Undeliverable as exc:
        return await _give_up(bot, job, holder, str(exc))
    except asyncio.CancelledError:
        # An orderly shutdown: hand the job back at once instead of leaving the next process
        # to wait for the lease to expire (the post may have happened: its nonce covers that).
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                asyncio.shield(_record_failure(bot, job, holder, INTERRUPTED, 0.0)), 2.0
            )
        raise
    except Exception as exc:
        reason = describe(exc)
        if not is_transient(exc):
            log.warning("job %d: delivery failed (%s)", job.id, reason, exc_info=exc)
        attempts = job.delivery.attempts
        if attempts >= settings.delivery_max_attempts:
            return await _give_up(bot, job, holder, f"gave up after {attempts} attempts: {reason}")
        delay = backoff_s(attempts, settings.delivery_backoff_s, settings.delivery_backoff_max_s)
        if lease.posting_to in NONCE_TARGETS and may_have_posted(exc):
            # The post may exist: repeat it while Discord still drops a repeat of its nonce.
            delay = min(delay, NONCE_SAFE_RETRY_S)
        delay = max(delay, retry_after_s(exc) or 0.0)
        log.info(
            "job %d: delivery attempt %d failed (%s); next in %.1f s",
            job.id,
            attempts,
            reason,
            delay,
        )
        await _record_failure(bot, job, holder, reason, delay)
        return Attempt(Outcome.RETRY, reason, delay)


async def _give_up(bot: NSTBot, job: Job, holder: str, reason: str) -> Attempt:
    log.warning("job %d: undeliverable: %s", job.id, reason)
    await _record_failure(bot, job, holder, reason, None)
    return Attempt(Outcome.UNDELIVERABLE, reason)


async def _record_failure(
    bot: NSTBot, job: Job, holder: str, reason: str, retry_in_s: float | None
) -> None:
    try:
        await bot.store.delivery_failed(job.id, holder, reason=reason, retry_in_s=retry_in_s)
    except Exception as exc:
        # The lease then expires and the next holder retries: nothing is lost.
        log.warning("job %d: could not record the delivery failure (%s)", job.id, describe(exc))
