"""Retention (purge old jobs and images) and privacy (delete everything of one user)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.db import Database, image_referenced
from bot.store.models import Image, JobRow, JobStyle, UserSettingsRow, WorkerRow
from bot.store.types import FINISHED_STATUSES, PurgeResult

# Images nobody references are kept this long, so an upload stored just before its job row
# (or by `put_image`) is not swept away under it.
ORPHAN_GRACE = timedelta(hours=1)


class RetentionMixin(Database):
    async def _job_images(self, conn: AsyncConnection, where: Any) -> list[str]:
        rows = await conn.execute(
            select(JobRow.content_sha, JobRow.result_sha, JobRow.preview_sha).where(where)
        )
        shas = [sha for row in rows for sha in row if sha]
        style_rows = await conn.execute(
            select(JobStyle.image_sha).where(JobStyle.job_id.in_(select(JobRow.id).where(where)))
        )
        return shas + [sha for (sha,) in style_rows]

    async def _delete_jobs(self, conn: AsyncConnection, where: Any) -> tuple[int, int]:
        shas = await self._job_images(conn, where)
        ids = select(JobRow.id).where(where)
        # Variations of deleted jobs stay, without their parent link.
        await conn.execute(
            update(JobRow).where(JobRow.parent_job_id.in_(ids)).values(parent_job_id=None)
        )
        await conn.execute(delete(JobStyle).where(JobStyle.job_id.in_(ids)))
        jobs = (await conn.execute(delete(JobRow).where(where))).rowcount or 0
        images = await self._delete_orphans(conn, shas)
        return jobs, images

    async def purge(self, older_than_days: float, *, now: datetime | None = None) -> PurgeResult:
        """Delete jobs finished more than `older_than_days` ago, then images no job uses."""
        now = now or self.clock()
        cutoff = now - timedelta(days=older_than_days)
        async with self.write() as conn:
            jobs, images = await self._delete_jobs(
                conn,
                (JobRow.status.in_([s.value for s in FINISHED_STATUSES]))
                & (JobRow.finished_at < cutoff),
            )
            swept = await conn.execute(
                delete(Image).where(Image.created_at < now - ORPHAN_GRACE, ~image_referenced())
            )
            images += swept.rowcount or 0
            await conn.execute(delete(WorkerRow).where(WorkerRow.heartbeat_at < cutoff))
        return PurgeResult(jobs=jobs, images=images)

    async def forget_user(self, user_id: int) -> PurgeResult:
        """Delete every job, image (unless another user's job uses it) and setting of a user.
        A running job is deleted too; its executor finds out at its next write."""
        async with self.write() as conn:
            jobs, images = await self._delete_jobs(conn, JobRow.owner_id == user_id)
            await conn.execute(delete(UserSettingsRow).where(UserSettingsRow.user_id == user_id))
        return PurgeResult(jobs=jobs, images=images)
