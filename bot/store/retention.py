"""Retention (purge old jobs and images) and privacy (delete everything of one user).

Both delete in small batches, each its own write transaction sized to hold SQLite's write
lock for about `HOLD_TARGET_S`, with a pause between batches: executors' heartbeats and the
bot's writes get in between, so a large purge never starves them into a stale requeue.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.db import Database, image_referenced
from bot.store.models import Image, JobRow, JobStyle, UserSettingsRow, WorkerRow
from bot.store.styles import delete_styles_added_by
from bot.store.types import ACTIVE_STATUSES, PurgeResult

# Images nobody references are kept this long, so an upload stored just before its job row
# (or by `put_image`) is not swept away under it.
ORPHAN_GRACE = timedelta(hours=1)
# Each batch aims at this lock hold; the pacer keeps it well under the 100 ms budget.
HOLD_TARGET_S = 0.04
# Pause between batches. SQLite's busy handler re-polls a writer that has waited under
# 128 ms at least every 25 ms, so after a hold of ≤ 100 ms a 30 ms pause lets it in.
BATCH_PAUSE_S = 0.03
FIRST_BATCH, MAX_BATCH = 50, 2000
SCAN_BATCH = 1000  # images looked at per read in the orphan sweep (no lock held)


@dataclass
class _Pacer:
    """Sizes batches so that one write transaction holds the lock about `HOLD_TARGET_S`
    (deleting large images costs more per row than small ones: learn it as we go)."""

    size: int = FIRST_BATCH
    batches: int = 0
    longest_s: float = 0.0
    total_s: float = 0.0
    _started: float = 0.0

    def start(self) -> None:
        """Call first thing inside the write transaction (the lock is held from here)."""
        self._started = time.perf_counter()

    def record(self, rows: int) -> None:
        """Call after the transaction committed: `rows` is what the batch handled."""
        held_s = time.perf_counter() - self._started
        self.batches += 1
        self.longest_s = max(self.longest_s, held_s)
        self.total_s += held_s
        if rows < self.size or rows == 0:
            return  # a short last batch says little about the cost per row
        wanted = rows * HOLD_TARGET_S / max(held_s, 1e-4)
        # Grow at most 2x per batch, shrink at once: one slow batch must not repeat.
        self.size = max(1, min(MAX_BATCH, int(min(wanted, 2 * self.size))))

    def result(self, jobs: int, images: int) -> PurgeResult:
        return PurgeResult(
            jobs=jobs,
            images=images,
            batches=self.batches,
            longest_hold_s=self.longest_s,
            total_hold_s=self.total_s,
        )


class RetentionMixin(Database):
    async def _job_images(self, conn: AsyncConnection, ids: Sequence[int]) -> list[str]:
        rows = await conn.execute(
            select(JobRow.content_sha, JobRow.result_sha, JobRow.preview_sha).where(
                JobRow.id.in_(ids)
            )
        )
        shas = [sha for row in rows for sha in row if sha]
        style_rows = await conn.execute(select(JobStyle.image_sha).where(JobStyle.job_id.in_(ids)))
        return shas + [sha for (sha,) in style_rows]

    async def _delete_job_ids(self, conn: AsyncConnection, ids: Sequence[int]) -> tuple[int, int]:
        """Delete these jobs, then those of their images (inputs, results, previews) that no
        other job uses. Returns (jobs, images) deleted."""
        if not ids:
            return 0, 0
        shas = await self._job_images(conn, ids)
        # Variations of deleted jobs stay, without their parent link.
        await conn.execute(
            update(JobRow).where(JobRow.parent_job_id.in_(ids)).values(parent_job_id=None)
        )
        await conn.execute(delete(JobStyle).where(JobStyle.job_id.in_(ids)))
        jobs = (await conn.execute(delete(JobRow).where(JobRow.id.in_(ids)))).rowcount or 0
        images = await self._delete_orphans(conn, shas)
        return jobs, images

    async def _purge_jobs(self, pacer: _Pacer, cutoff: datetime) -> tuple[int, int]:
        """Delete every job finished before `cutoff`, oldest first, batch by batch."""
        # NOT IN the active statuses (= finished): an IN on status would let the planner
        # pick the status index and sort every old job for each batch; this way each batch
        # is a short range scan of ix_jobs_finished_at.
        old = and_(
            JobRow.status.not_in([s.value for s in ACTIVE_STATUSES]), JobRow.finished_at < cutoff
        )
        jobs = images = 0
        while True:
            size = pacer.size
            async with self.write() as conn:
                pacer.start()
                ids = list(
                    await conn.scalars(
                        select(JobRow.id).where(old).order_by(JobRow.finished_at).limit(size)
                    )
                )
                done = await self._delete_job_ids(conn, ids)
            pacer.record(len(ids))
            jobs, images = jobs + done[0], images + done[1]
            if len(ids) < size:
                return jobs, images
            await asyncio.sleep(BATCH_PAUSE_S)

    async def _sweep_orphans(self, pacer: _Pacer, created_before: datetime) -> int:
        """Delete images older than `created_before` that no job uses. Candidates are found
        by reads (no lock), walking the (created_at, sha) index; only deletes take the lock."""
        deleted, after = 0, None
        while True:
            async with self.read() as conn:
                stmt = select(Image.created_at, Image.sha).where(Image.created_at < created_before)
                if after is not None:
                    stmt = stmt.where(
                        Image.created_at >= after[0],
                        or_(Image.created_at > after[0], Image.sha > after[1]),
                    )
                scanned = (
                    await conn.execute(stmt.order_by(Image.created_at, Image.sha).limit(SCAN_BATCH))
                ).all()
                if not scanned:
                    return deleted
                after = tuple(scanned[-1])
                orphans = list(
                    await conn.scalars(
                        select(Image.sha).where(
                            Image.sha.in_([sha for _, sha in scanned]), ~image_referenced()
                        )
                    )
                )
            for start in range(0, len(orphans), pacer.size):
                batch = orphans[start : start + pacer.size]
                async with self.write() as conn:
                    pacer.start()
                    deleted += await self._delete_orphans(conn, batch)  # re-checks references
                pacer.record(len(batch))
                await asyncio.sleep(BATCH_PAUSE_S)

    async def purge(self, older_than_days: float, *, now: datetime | None = None) -> PurgeResult:
        """Delete jobs finished more than `older_than_days` ago, then images no job uses (and
        executors silent for as long), in batches that each hold the write lock briefly."""
        now = now or self.clock()
        cutoff = now - timedelta(days=older_than_days)
        pacer = _Pacer()
        jobs, images = await self._purge_jobs(pacer, cutoff)
        images += await self._sweep_orphans(pacer, now - ORPHAN_GRACE)
        async with self.write() as conn:
            pacer.start()
            await conn.execute(delete(WorkerRow).where(WorkerRow.heartbeat_at < cutoff))
        pacer.record(0)
        return pacer.result(jobs, images)

    async def _forget_ids(self, user_id: int) -> list[int]:
        """Ids of every job that is the user's or uses an input that came from them."""
        from_user = or_(
            JobRow.owner_id == user_id,
            JobRow.content_source_id == user_id,
            JobRow.id.in_(select(JobStyle.job_id).where(JobStyle.source_user_id == user_id)),
        )
        # Rows from before sources were recorded (NULL): a job of another user with the same
        # content bytes as one of theirs is a rerun of their job, or used their photo.
        their_content = select(JobRow.content_sha).where(
            or_(
                JobRow.content_source_id == user_id,
                and_(JobRow.content_source_id.is_(None), JobRow.owner_id == user_id),
            )
        )
        legacy = and_(JobRow.content_source_id.is_(None), JobRow.content_sha.in_(their_content))
        async with self.read() as conn:
            return list(await conn.scalars(select(JobRow.id).where(or_(from_user, legacy))))

    async def forget_user(self, user_id: int) -> PurgeResult:
        """Delete everything that came from a user: their jobs, every other user's job that
        used an image from them (reruns of their jobs, the "Stylize" menu on their messages),
        the results and previews of all those jobs, each of those images that no remaining job
        uses, their settings and the server styles they added. A running job is deleted too;
        its executor finds out at its next write."""
        pacer = _Pacer()
        # The ids are collected first: the legacy rule above looks at the user's own jobs.
        ids = await self._forget_ids(user_id)
        jobs = images = 0
        while ids:
            batch, ids = ids[: pacer.size], ids[pacer.size :]
            async with self.write() as conn:
                pacer.start()
                done = await self._delete_job_ids(conn, batch)
            pacer.record(len(batch))
            jobs, images = jobs + done[0], images + done[1]
            if ids:
                await asyncio.sleep(BATCH_PAUSE_S)
        async with self.write() as conn:
            pacer.start()
            await conn.execute(delete(UserSettingsRow).where(UserSettingsRow.user_id == user_id))
            # Their server styles last: the jobs made from them are gone, so their images go.
            images += await self._delete_orphans(conn, await delete_styles_added_by(conn, user_id))
        pacer.record(0)
        return pacer.result(jobs, images)
