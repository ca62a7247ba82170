"""Giving jobs back: on SIGTERM (`requeue`), after an executor died (`recover_worker`,
`requeue_stale`), and when an executor process takes over its worker id (`register_worker`).

Crash accounting (the poison rule counts crashes): a crash is counted against a job only when
its own executor died while the rest of its host kept running — the supervisor saw its child
die, or another executor of the same *session* (the unit that dies together: one supervisor
run, or for a standalone executor the host's boot) heart-beat after the job's last heartbeat.
A whole-service crash or a host restart kills every process of a session at once: nothing of
that session outlives the job, so its jobs are requeued without a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.claims import RESET_PROGRESS, ClaimsMixin
from bot.store.db import FINISHED_DELIVERY
from bot.store.models import JobRow, WorkerRow
from bot.store.types import JobStatus, StaleAction

POISON_MESSAGE = (
    "Something went wrong on our side while making this image (internal error: it stopped "
    "the image worker {n} times), so it won't be retried. Try other images or a smaller size."
)

_RUNNING_COLUMNS = (
    JobRow.id,
    JobRow.worker_id,
    JobRow.crashes,
    JobRow.cancel_requested_at,
    JobRow.preview_sha,
    JobRow.heartbeat_at,
)


class RecoveryMixin(ClaimsMixin):
    async def requeue(self, job_id: int, worker_id: str, *, token: str | None = None) -> bool:
        """Give the job back (SIGTERM): queued again without counting a crash, or cancelled
        if that was requested."""
        mine = self._mine(job_id, worker_id, token)
        async with self.write() as conn:
            now = self.clock()
            row = (
                await conn.execute(
                    select(JobRow.cancel_requested_at, JobRow.preview_sha).where(mine)
                )
            ).first()
            if row is None:
                return False
            if row.cancel_requested_at is not None:
                values: dict[str, Any] = {
                    "status": JobStatus.CANCELLED.value,
                    "finished_at": now,
                    **FINISHED_DELIVERY,
                }
            else:
                values = {"status": JobStatus.QUEUED.value, "started_at": None, "claim_token": None}
            await conn.execute(
                update(JobRow)
                .where(mine)
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

        Each goes back to the queue; `crashes + 1` only when its executor died alone (see the
        module docstring), and a job that has now brought down `max_crashes` executors fails
        with code `internal_error` instead (poison rule).
        """
        async with self.write() as conn:
            now = self.clock()
            cutoff = now - timedelta(seconds=stale_after_s)
            stmt = select(*_RUNNING_COLUMNS).where(
                JobRow.status == JobStatus.RUNNING.value,
                or_(JobRow.heartbeat_at < cutoff, JobRow.heartbeat_at.is_(None)),
            )
            if not self.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True, of=JobRow.__table__)
            rows = (await conn.execute(stmt)).all()
            crashed = [await self._died_alone(conn, row) for row in rows]
            return await self._give_back(conn, rows, crashed, max_crashes, now)

    async def recover_worker(
        self, worker_id: str, *, pid: int | None = None, crashed: bool, max_crashes: int = 2
    ) -> list[StaleAction]:
        """The jobs of an executor known to be dead go back at once (its supervisor saw it
        exit): `crashed` — it died by itself (counts against the job), or False — it was
        killed in an orderly shutdown that ran out of grace time. With `pid`, only if that
        process is the one registered under `worker_id` (not another holder of the id)."""
        async with self.write() as conn:
            now = self.clock()
            if pid is not None:
                registered = await conn.scalar(
                    select(WorkerRow.pid).where(WorkerRow.id == worker_id)
                )
                if registered != pid:
                    return []
            rows = await self._running_for(conn, worker_id)
            return await self._give_back(conn, rows, [crashed] * len(rows), max_crashes, now)

    async def register_worker(
        self,
        worker_id: str,
        *,
        host: str | None,
        pid: int | None,
        session: str | None,
        max_crashes: int = 2,
    ) -> list[StaleAction]:
        """A new executor process takes over `worker_id` (the caller made sure no live
        process holds it). Jobs its previous incarnation left running are given back: with a
        crash when that one died alone (same session), without when its whole session died
        (the service or the host restarted)."""
        async with self.write() as conn:
            now = self.clock()
            old = (
                await conn.execute(select(WorkerRow.session).where(WorkerRow.id == worker_id))
            ).first()
            died_alone = old is None or old.session == session
            await self._upsert_worker(
                conn, worker_id, None, host, pid, session=session, restart=True
            )
            rows = await self._running_for(conn, worker_id)
            return await self._give_back(conn, rows, [died_alone] * len(rows), max_crashes, now)

    # ------------------------------------------------------------------ internals
    async def _running_for(self, conn: AsyncConnection, worker_id: str) -> Sequence[Any]:
        stmt = select(*_RUNNING_COLUMNS).where(
            JobRow.status == JobStatus.RUNNING.value, JobRow.worker_id == worker_id
        )
        if not self.is_sqlite:
            stmt = stmt.with_for_update(of=JobRow.__table__)
        return (await conn.execute(stmt)).all()

    async def _died_alone(self, conn: AsyncConnection, row: Any) -> bool:
        """Whether another executor of the dead one's host and session outlived the job (its
        heartbeat is newer than the job's). An executor of unknown host counts as alone."""
        dead = (
            await conn.execute(
                select(WorkerRow.host, WorkerRow.session).where(WorkerRow.id == row.worker_id)
            )
        ).first()
        if dead is None or dead.host is None or row.heartbeat_at is None:
            return True
        session = (
            WorkerRow.session.is_(None)
            if dead.session is None
            else WorkerRow.session == dead.session
        )
        witness = exists().where(
            WorkerRow.id != row.worker_id,
            WorkerRow.host == dead.host,
            session,
            WorkerRow.heartbeat_at > row.heartbeat_at,
        )
        return bool(await conn.scalar(select(witness)))

    async def _give_back(
        self,
        conn: AsyncConnection,
        rows: Sequence[Any],
        crashed: Sequence[bool],
        max_crashes: int,
        now: datetime,
    ) -> list[StaleAction]:
        """Requeue (or cancel, or fail by the poison rule) running jobs whose executor is gone."""
        actions: list[StaleAction] = []
        for row, counted in zip(rows, crashed, strict=True):
            crashes = row.crashes + (1 if counted else 0)
            values: dict[str, Any]
            if row.cancel_requested_at is not None:
                action = "cancelled"
                values = {"status": JobStatus.CANCELLED.value, "finished_at": now}
                values |= FINISHED_DELIVERY
            elif counted and crashes >= max_crashes:
                action = "failed"
                values = {
                    "status": JobStatus.FAILED.value,
                    "finished_at": now,
                    "error_code": "internal_error",
                    "error_message": POISON_MESSAGE.format(n=crashes),
                    **FINISHED_DELIVERY,
                }
            else:
                action = "requeued"
                values = {"status": JobStatus.QUEUED.value, "started_at": None, "claim_token": None}
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
            actions.append(StaleAction(row.id, action, row.worker_id, crashes, counted))
        return actions
