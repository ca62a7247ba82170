"""The stale-job requeue, run by every executor and by the supervisor in `nst-bot run` (so a
killed executor's job is picked up again even when no other executor is alive to notice).

No torch here: the supervisor runs inside the Discord process.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.store.ports import ExecutorStore
    from bot.store.types import StaleAction

log = logging.getLogger(__name__)


async def requeue_stale(store: ExecutorStore, settings: Settings) -> list[StaleAction]:
    """Requeue (or fail, by the poison rule) jobs whose executor went silent; logs each one."""
    actions = await store.requeue_stale(settings.stale_after_s, max_crashes=settings.max_crashes)
    for action in actions:
        log.warning(
            "job %s %s: executor %s went silent (crashes: %d%s)",
            action.job_id,
            action.action,
            action.worker_id,
            action.crashes,
            "" if action.crashed else "; not counted: nothing else of its service outlived it",
        )
    return actions
