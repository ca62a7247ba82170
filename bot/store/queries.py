"""Read-only queries for the bot and operators: queue position, history, stats."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.db import JOB_COLUMNS, Database
from bot.store.models import JobRow, WorkerRow
from bot.store.shards import ShardSet
from bot.store.types import Job, JobStatus, QueueInfo, Stats, WorkerInfo
from bot.store.visibility import Viewer, visible_to

RECENT_JOBS_FOR_ETA = 20


def _round_robin_position(
    owner_id: int, job_id: int, per_user: Sequence[tuple[int, int, int, int]]
) -> int:
    """Estimated 1-based place of a queued job when claims go round-robin across users.

    `per_user` rows are (owner, queued jobs, oldest queued id, queued jobs older than this
    one). If this is the owner's k-th queued job, every other user is served up to k-1
    times before it, plus once more if their turn in the round comes first (approximated
    by their oldest job being older than this one).
    """
    k = next(1 + older for owner, _, _, older in per_user if owner == owner_id)
    ahead = k - 1
    for owner, count, oldest, _ in per_user:
        if owner != owner_id:
            ahead += min(count, k if oldest < job_id else k - 1)
    return ahead + 1


class QueriesMixin(Database):
    async def _recent_avg_elapsed(self, conn: AsyncConnection) -> float | None:
        recent = (
            select(JobRow.elapsed_s)
            .where(JobRow.status == JobStatus.SUCCEEDED, JobRow.elapsed_s.is_not(None))
            .order_by(JobRow.finished_at.desc())
            .limit(RECENT_JOBS_FOR_ETA)
            .subquery()
        )
        value = await conn.scalar(select(func.avg(recent.c.elapsed_s)))
        return float(value) if value is not None else None

    async def queue_info(self, job_id: int) -> QueueInfo | None:
        """Queue position (1-based, estimated under round-robin claiming) and an ETA from
        recent measured job times. Three small queries; no scan of job history."""
        async with self.read() as conn:
            row = (
                await conn.execute(
                    select(
                        JobRow.status, JobRow.owner_id, JobRow.started_at, JobRow.progress_eta_s
                    ).where(JobRow.id == job_id)
                )
            ).first()
            if row is None:
                return None
            status = JobStatus(row.status)
            counts = dict(
                (
                    await conn.execute(
                        select(JobRow.status, func.count())
                        .where(JobRow.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
                        .group_by(JobRow.status)
                    )
                ).all()
            )
            total, running = counts.get("queued", 0), counts.get("running", 0)
            position = 0
            if status is JobStatus.QUEUED:
                per_user = (
                    await conn.execute(
                        select(
                            JobRow.owner_id,
                            func.count(),
                            func.min(JobRow.id),
                            func.count().filter(JobRow.id < job_id),
                        )
                        .where(JobRow.status == JobStatus.QUEUED.value)
                        .group_by(JobRow.owner_id)
                    )
                ).all()
                position = _round_robin_position(row.owner_id, job_id, per_user)
            avg = await self._recent_avg_elapsed(conn)
            executors = await self._count_online(conn, 20.0)
        eta: float | None = None
        if status is JobStatus.RUNNING:
            if row.progress_eta_s is not None:
                eta = row.progress_eta_s
            elif avg is not None and row.started_at is not None:
                eta = max(avg - (self.clock() - row.started_at).total_seconds(), 0.0)
        elif status is JobStatus.QUEUED and avg is not None:
            # Jobs ahead share the executors; a running job is on average half done.
            ahead = (position - 1) + 0.5 * running
            eta = ahead * avg / max(executors, 1) + avg
        elif status.finished:
            eta = 0.0
        return QueueInfo(status, position, total, running, eta)

    async def history(
        self, user_id: int, viewer: Viewer, limit: int = 10, offset: int = 0
    ) -> list[Job]:
        """A user's jobs that `viewer` may see (`bot.store.visibility`), newest first."""
        stmt = select(*JOB_COLUMNS).where(JobRow.owner_id == user_id, visible_to(viewer))
        stmt = stmt.order_by(JobRow.created_at.desc(), JobRow.id.desc()).limit(limit).offset(offset)
        async with self.read() as conn:
            return await self._load_jobs(conn, stmt)

    async def active_jobs(
        self, owner_id: int | None = None, *, shards: ShardSet | None = None
    ) -> list[Job]:
        """Queued and running jobs, oldest first (optionally one user's, or only those made
        in guilds of `shards`)."""
        stmt = select(*JOB_COLUMNS).where(JobRow.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
        if owner_id is not None:
            stmt = stmt.where(JobRow.owner_id == owner_id)
        if shards is not None:
            stmt = stmt.where(shards.clause())
        async with self.read() as conn:
            return await self._load_jobs(conn, stmt.order_by(JobRow.id))

    async def recent_jobs(
        self, limit: int = 20, *, owner_id: int | None = None, status: str | None = None
    ) -> list[Job]:
        """The newest jobs of everyone (operators), optionally filtered."""
        stmt = select(*JOB_COLUMNS)
        if owner_id is not None:
            stmt = stmt.where(JobRow.owner_id == owner_id)
        if status is not None:
            stmt = stmt.where(JobRow.status == status)
        async with self.read() as conn:
            return await self._load_jobs(conn, stmt.order_by(JobRow.id.desc()).limit(limit))

    async def updated_since(
        self, since: datetime, limit: int = 200, *, shards: ShardSet | None = None
    ) -> list[Job]:
        """Jobs changed after `since` (progress, status), oldest change first; with
        `shards`, only jobs made in guilds of those shards (DMs belong to shard 0)."""
        stmt = select(*JOB_COLUMNS).where(JobRow.updated_at > since)
        if shards is not None:
            stmt = stmt.where(shards.clause())
        stmt = stmt.order_by(JobRow.updated_at, JobRow.id).limit(limit)
        async with self.read() as conn:
            return await self._load_jobs(conn, stmt)

    async def _count_online(self, conn: AsyncConnection, stale_after_s: float) -> int:
        cutoff = self.clock() - timedelta(seconds=stale_after_s)
        online = await conn.scalar(
            select(func.count()).select_from(WorkerRow).where(WorkerRow.heartbeat_at >= cutoff)
        )
        return int(online or 0)

    async def executors_online(self, stale_after_s: float = 20.0) -> int:
        """Executors whose heartbeat is fresher than `stale_after_s`."""
        async with self.read() as conn:
            return await self._count_online(conn, stale_after_s)

    async def workers(self, stale_after_s: float | None = None) -> list[WorkerInfo]:
        """Known executors (only live ones when `stale_after_s` is given)."""
        stmt = select(
            WorkerRow.id,
            WorkerRow.host,
            WorkerRow.pid,
            WorkerRow.started_at,
            WorkerRow.heartbeat_at,
            WorkerRow.current_job_id,
            WorkerRow.jobs_done,
            WorkerRow.session,
        ).order_by(WorkerRow.id)
        if stale_after_s is not None:
            cutoff = self.clock() - timedelta(seconds=stale_after_s)
            stmt = stmt.where(WorkerRow.heartbeat_at >= cutoff)
        async with self.read() as conn:
            return [WorkerInfo(*r) for r in (await conn.execute(stmt)).all()]

    async def stats(self, guild_id: int | None = None) -> Stats:
        """Job counts by status (one server's or all), users, recent mean time, executors."""
        scope = [JobRow.guild_id == guild_id] if guild_id is not None else []
        async with self.read() as conn:
            counts = dict(
                (
                    await conn.execute(
                        select(JobRow.status, func.count()).where(*scope).group_by(JobRow.status)
                    )
                ).all()
            )
            users = await conn.scalar(
                select(func.count(func.distinct(JobRow.owner_id))).where(*scope)
            )
            avg = await self._recent_avg_elapsed(conn)
            online = await self._count_online(conn, 20.0)
        return Stats(
            queued=counts.get("queued", 0),
            running=counts.get("running", 0),
            succeeded=counts.get("succeeded", 0),
            failed=counts.get("failed", 0),
            cancelled=counts.get("cancelled", 0),
            users=users or 0,
            avg_elapsed_s=avg,
            executors_online=online,
        )
