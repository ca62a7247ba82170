"""Scheduled retention: the bot process applies `RETENTION_DAYS` by itself, every
`PURGE_INTERVAL_S` (the first time at start-up, so a bot restarted more often than the
interval still purges).

No discord and no torch here: only the store.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from bot.store import PurgeResult
    from bot.store.ports import BotStore

log = logging.getLogger("bot.retention")


async def purge_once(store: BotStore, retention_days: float) -> PurgeResult | None:
    """Purge once and log what went; a database error is logged (not raised) and None is
    returned, so that the next scheduled run simply tries again."""
    try:
        done = await store.purge(retention_days)
    except (SQLAlchemyError, OSError) as exc:
        # The message only: bound parameters are hidden by the engine, and the URL may hold
        # a password, so no traceback at INFO and above.
        log.warning("scheduled purge failed (retrying next time): %s", exc.__class__.__name__)
        log.debug("purge error", exc_info=exc)
        return None
    except Exception:  # a bug, not the database: say so loudly, but keep the schedule
        log.exception("scheduled purge failed (retrying next time)")
        return None
    if done.jobs or done.images:
        log.info(
            "purged %d job(s) and %d image(s) older than %g days (%d batches, longest lock "
            "hold %.0f ms)",
            done.jobs,
            done.images,
            retention_days,
            done.batches,
            done.longest_hold_s * 1000,
        )
    else:
        log.debug("purge: nothing older than %g days", retention_days)
    return done


async def purge_loop(store: BotStore, retention_days: float, interval_s: float) -> None:
    """Purge now and then every `interval_s` seconds, until cancelled."""
    while True:
        await purge_once(store, retention_days)
        await asyncio.sleep(interval_s)
