"""Giving jobs back: on SIGTERM (`requeue`) and after an executor died (`requeue_stale`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update

from bot.store.claims import RESET_PROGRESS, ClaimsMixin
from bot.store.models import JobRow
from bot.store.types import JobStatus, StaleAction

POISON_MESSAGE = (
    "Something went wrong on our side while making this image (internal error: it stopped "
    "the image worker {n} times), so it won't be retried. Try other images or a smaller size."
)


class RecoveryMixin(ClaimsMixin):
    async def requeue(self, job_id: int, worker_id: str) -> bool:
        """Give the job back (SIGTERM): queued again, or cancelled if that was requested."""
        async with self.write() as conn:
            now = self.clock()
            row = (
                await conn.execute(
                    select(JobRow.cancel_requested_at, JobRow.preview_sha).where(
                        self._mine(job_id, worker_id)
                    )
                )
            ).first()
            if row is None:
                return False
            if row.cancel_requested_at is not None:
                values: dict[str, Any] = {"status": JobStatus.CANCELLED.value, "finished_at": now}
            else:
                values = {"status": JobStatus.QUEUED.value, "started_at": None}
            await conn.execute(
                update(JobRow)
                .where(self._mine(job_id, worker_id))
                .values(
                    worker_id=None,
                    heartbeat_at=None,
                    preview_sha=None,
                    updated_at=now,
                    **RESET_PROGRESS,
                    **values,
                )
            )
            await self._delete_orphans(conn, [row.preview_sha])
            await self._upsert_worker(conn, worker_id, None)
            return True

    async def requeue_stale(self, stale_after_s: float, max_crashes: int = 2) -> list[StaleAction]:
        """Recover jobs whose executor stopped heart-beating (killed, hung, host lost).

        Each goes back to the queue with `crashes + 1`; a job that has now brought down
        `max_crashes` executors fails with code `internal_error` instead (poison rule).
        """
        actions: list[StaleAction] = []
        async with self.write() as conn:
            now = self.clock()
            cutoff = now - timedelta(seconds=stale_after_s)
            stmt = select(
                JobRow.id,
                JobRow.worker_id,
                JobRow.crashes,
                JobRow.cancel_requested_at,
                JobRow.preview_sha,
            ).where(
                JobRow.status == JobStatus.RUNNING.value,
                or_(JobRow.heartbeat_at < cutoff, JobRow.heartbeat_at.is_(None)),
            )
            if not self.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            for row in (await conn.execute(stmt)).all():
                crashes = row.crashes + 1
                values: dict[str, Any]
                if row.cancel_requested_at is not None:
                    action, values = "cancelled", {"status": "cancelled", "finished_at": now}
                elif crashes >= max_crashes:
                    action = "failed"
                    values = {
                        "status": JobStatus.FAILED.value,
                        "finished_at": now,
                        "error_code": "internal_error",
                        "error_message": POISON_MESSAGE.format(n=crashes),
                    }
                else:
                    action, values = "requeued", {"status": "queued", "started_at": None}
                await conn.execute(
                    update(JobRow)
                    .where(JobRow.id == row.id, JobRow.status == JobStatus.RUNNING.value)
                    .where(JobRow.worker_id == row.worker_id)
                    .values(
                        crashes=crashes,
                        worker_id=None,
                        heartbeat_at=None,
                        preview_sha=None,
                        updated_at=now,
                        **RESET_PROGRESS,
                        **values,
                    )
                )
                await self._delete_orphans(conn, [row.preview_sha])
                actions.append(StaleAction(row.id, action, row.worker_id, crashes))
        return actions
