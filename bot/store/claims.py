"""Executor-side operations: fair atomic claiming, heartbeats, progress and outcomes.

Every mutation is guarded by `worker_id`, `status == running` and (as the executor always
passes it) the claim's fencing `token`, so an executor that lost its job (it was requeued as
stale while the process hung), or another process using the same worker id, cannot overwrite
the new attempt. `token=None` checks the worker id only (tests and tools).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, exists, func, null, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.db import FINISHED_DELIVERY, JOB_COLUMNS, Database
from bot.store.models import Image, JobRow, WorkerRow
from bot.store.types import ClaimedJob, JobStatus, StoredImage

# The job's columns as an executor sees them: the interaction token always reads as NULL.
CLAIM_COLUMNS = tuple(
    null().label(c.name) if c.name == "interaction_token" else c for c in JOB_COLUMNS
)

RESET_PROGRESS: dict[str, Any] = {
    "progress_scale": 0,
    "progress_scales": 0,
    "progress_step": 0,
    "progress_total": 0,
    "progress_eta_s": None,
    "progress_at": None,
}


def _candidate_query() -> Any:
    """The next queued job, fairly: the owner with the fewest running jobs first, then the
    owner served longest ago (never served first), then the oldest job."""
    jobs = JobRow.__table__
    other = jobs.alias("other")
    running = (
        select(func.count())
        .select_from(other)
        .where(other.c.owner_id == jobs.c.owner_id, other.c.status == JobStatus.RUNNING.value)
        .scalar_subquery()
    )
    last_served = (
        select(func.max(other.c.started_at))
        .where(other.c.owner_id == jobs.c.owner_id)
        .scalar_subquery()
    )
    return (
        select(jobs.c.id)
        .where(jobs.c.status == JobStatus.QUEUED.value)
        .order_by(running, last_served.asc().nulls_first(), jobs.c.created_at, jobs.c.id)
        .limit(1)
    )


class ClaimsMixin(Database):
    async def _upsert_worker(
        self,
        conn: AsyncConnection,
        worker_id: str,
        job_id: int | None,
        host: str | None = None,
        pid: int | None = None,
        done: int = 0,
        session: str | None = None,
        restart: bool = False,
    ) -> None:
        """Insert or refresh a worker row; `restart`: a new process takes the id over
        (started_at and session start again)."""
        now = self.clock()
        stmt = self.conflict_insert(WorkerRow).values(
            id=worker_id,
            host=host,
            pid=pid,
            started_at=now,
            heartbeat_at=now,
            current_job_id=job_id,
            jobs_done=done,
            session=session,
        )
        changes: dict[str, Any] = {
            "heartbeat_at": now,
            "current_job_id": job_id,
            "jobs_done": WorkerRow.jobs_done + done,
        }
        if host is not None:
            changes["host"] = host
        if pid is not None:
            changes["pid"] = pid
        if restart:
            changes |= {"started_at": now, "session": session, "jobs_done": done}
        await conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=changes))

    async def claim(self, worker_id: str) -> ClaimedJob | None:
        """Atomically take the next job (fair across users) for this executor, or None.
        The returned `token` fences every later write of this attempt."""
        # Idle executors poll often: look without taking the write lock first.
        async with self.read() as conn:
            if not await conn.scalar(select(exists().where(JobRow.status == JobStatus.QUEUED))):
                return None
        async with self.write() as conn:
            # Timestamps are taken inside the write lock so that on SQLite they follow commit
            # order (the bot's `updated_since` watermark relies on it).
            now = self.clock()
            token = secrets.token_hex(16)
            values = {
                "status": JobStatus.RUNNING.value,
                "worker_id": worker_id,
                "claim_token": token,
                "attempts": JobRow.attempts + 1,
                "started_at": now,
                "heartbeat_at": now,
                "updated_at": now,
                **RESET_PROGRESS,
            }
            if self.is_sqlite:
                # The write lock is held since BEGIN IMMEDIATE: pick and mark in one statement.
                job_id = await conn.scalar(
                    update(JobRow)
                    .where(JobRow.id == _candidate_query().scalar_subquery())
                    .where(JobRow.status == JobStatus.QUEUED.value)
                    .values(**values)
                    .returning(JobRow.id)
                )
            else:
                candidate = _candidate_query().with_for_update(
                    skip_locked=True, of=JobRow.__table__
                )
                job_id = await conn.scalar(candidate)
                if job_id is not None:
                    job_id = await conn.scalar(
                        update(JobRow)
                        .where(JobRow.id == job_id, JobRow.status == JobStatus.QUEUED.value)
                        .values(**values)
                        .returning(JobRow.id)
                    )
            if job_id is None:
                return None
            await self._upsert_worker(conn, worker_id, job_id)
            return await self._claimed(conn, job_id, token)

    async def _claimed(self, conn: AsyncConnection, job_id: int, token: str) -> ClaimedJob:
        """The claimed job with its input images, as the executor gets it."""
        # Executors never need the interaction token (the bot delivers): it is not even
        # read from the database, so it can't sit in an executor's memory or logs.
        jobs = await self._load_jobs(conn, select(*CLAIM_COLUMNS).where(JobRow.id == job_id))
        job = jobs[0]
        shas = [job.content_sha, *(sha for sha, _ in job.styles)]
        rows = await conn.execute(
            select(Image.sha, Image.data, Image.fmt, Image.width, Image.height).where(
                Image.sha.in_(shas)
            )
        )
        images = {r.sha: StoredImage(*r) for r in rows}
        return ClaimedJob(
            job=job,
            content=images[job.content_sha],
            styles=tuple((images[sha], w) for sha, w in job.styles),
            token=token,
        )

    def _mine(self, job_id: int, worker_id: str, token: str | None = None) -> Any:
        """SQL: the job is running for this executor (and, given `token`, this very claim:
        worker ids are chosen by operators and may collide; tokens can't)."""
        mine = and_(
            JobRow.id == job_id,
            JobRow.worker_id == worker_id,
            JobRow.status == JobStatus.RUNNING.value,
        )
        return mine if token is None else and_(mine, JobRow.claim_token == token)

    async def heartbeat(
        self,
        worker_id: str,
        job_id: int | None = None,
        *,
        host: str | None = None,
        pid: int | None = None,
        token: str | None = None,
    ) -> bool:
        """Record that this executor lives; with `job_id`, also that the job is alive.
        Returns False when the job is no longer this worker's (stop working on it)."""
        async with self.write() as conn:
            owned = True
            if job_id is not None:
                # The job row before the worker row, the order every other write here takes
                # them in (claim, finish, requeue): in the opposite order a heartbeat and the
                # same executor's `complete` deadlock on PostgreSQL.
                result = await conn.execute(
                    update(JobRow)
                    .where(self._mine(job_id, worker_id, token))
                    .values(heartbeat_at=self.clock())
                )
                owned = result.rowcount == 1
            await self._upsert_worker(conn, worker_id, job_id, host, pid)
            return owned

    async def unregister_worker(self, worker_id: str) -> None:
        """Forget an executor that is shutting down cleanly."""
        async with self.write() as conn:
            await conn.execute(delete(WorkerRow).where(WorkerRow.id == worker_id))

    async def is_cancel_requested(self, job_id: int) -> bool:
        """Whether someone asked to cancel this job (True also if the job was deleted)."""
        async with self.read() as conn:
            row = (
                await conn.execute(select(JobRow.cancel_requested_at).where(JobRow.id == job_id))
            ).first()
        return row is None or row[0] is not None

    async def report_progress(
        self,
        job_id: int,
        worker_id: str,
        *,
        scale: int,
        scales: int,
        step: int,
        total: int,
        eta_s: float | None,
        preview_jpeg: bytes | None = None,
        preview_size: tuple[int, int] | None = None,
        token: str | None = None,
    ) -> bool:
        """Store the latest progress (and optionally a small JPEG preview). Callers throttle
        this to about once a second. False when the job is no longer this worker's."""
        mine = self._mine(job_id, worker_id, token)
        async with self.write() as conn:
            now = self.clock()
            values: dict[str, Any] = {
                "progress_scale": scale,
                "progress_scales": scales,
                "progress_step": step,
                "progress_total": total,
                "progress_eta_s": eta_s,
                "progress_at": now,
                "heartbeat_at": now,
                "updated_at": now,
            }
            old_preview = None
            if preview_jpeg is not None:
                old_preview = await conn.scalar(select(JobRow.preview_sha).where(mine))
                width, height = preview_size or (0, 0)
                values["preview_sha"] = await self._put_image(
                    conn, preview_jpeg, "jpeg", width, height
                )
            result = await conn.execute(update(JobRow).where(mine).values(**values))
            if old_preview is not None and old_preview != values.get("preview_sha"):
                await self._delete_orphans(conn, [old_preview])
            if result.rowcount != 1 and "preview_sha" in values:
                await self._delete_orphans(conn, [values["preview_sha"]])
            return result.rowcount == 1

    async def _finish(
        self,
        job_id: int,
        worker_id: str,
        values: dict[str, Any],
        result: tuple[bytes, int, int] | None = None,
        token: str | None = None,
    ) -> bool:
        mine = self._mine(job_id, worker_id, token)
        async with self.write() as conn:
            now = self.clock()
            old_preview = await conn.scalar(select(JobRow.preview_sha).where(mine))
            if old_preview is None and not await conn.scalar(select(exists().where(mine))):
                return False  # lost the job: don't store a result nobody references
            if result is not None:
                data, width, height = result
                values["result_sha"] = await self._put_image(conn, data, "png", width, height)
            await conn.execute(
                update(JobRow)
                .where(mine)
                .values(
                    finished_at=now, updated_at=now, preview_sha=None, **FINISHED_DELIVERY, **values
                )
            )
            await self._delete_orphans(conn, [old_preview])
            await self._upsert_worker(conn, worker_id, None, done=1)
            return True

    async def complete(
        self,
        job_id: int,
        worker_id: str,
        result_png: bytes,
        width: int,
        height: int,
        elapsed_s: float,
        *,
        notes: Sequence[str] = (),
        precision: str | None = None,
        token: str | None = None,
    ) -> bool:
        """Store the result PNG and mark the job succeeded.

        `precision` is what the engine's VGG passes ran in ("bf16" or "fp32"), kept with the job.
        """
        return await self._finish(
            job_id,
            worker_id,
            {
                "status": JobStatus.SUCCEEDED.value,
                "elapsed_s": float(elapsed_s),
                "notes": "\n".join(notes) or None,
                "precision": precision,
            },
            result=(result_png, width, height),
            token=token,
        )

    async def fail(
        self, job_id: int, worker_id: str, code: str, message: str, *, token: str | None = None
    ) -> bool:
        """Mark the job failed with a stable code and a message for the user."""
        return await self._finish(
            job_id,
            worker_id,
            {"status": JobStatus.FAILED.value, "error_code": code, "error_message": message},
            token=token,
        )

    async def mark_cancelled(
        self, job_id: int, worker_id: str, *, token: str | None = None
    ) -> bool:
        """The executor stopped the job because cancellation was requested."""
        return await self._finish(
            job_id, worker_id, {"status": JobStatus.CANCELLED.value}, token=token
        )
