"""A server's public gallery (`/g/<guild id>` on the web face): its switch and its pages.

The gallery shows what any member of the guild may see from inside it — the visibility
policy (`bot.store.visibility`) for a viewer who owns nothing — narrowed to succeeded jobs
made in that guild and still inside retention. A guild whose admins never turned it on, and a
guild the bot has never seen, both read as "off": callers answer the two alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.store.db import JOB_COLUMNS, Database
from bot.store.models import GuildSettingsRow, JobRow, JobStyle, Thumbnail
from bot.store.types import Job, JobStatus, StoredImage
from bot.store.visibility import Viewer, visible_to

# No job has owner 0 (Discord ids are positive snowflakes, web users negative), so this
# viewer sees only what the policy shows a guild's members: public jobs made there.
ANYONE = 0
MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class GalleryPage:
    """One page of a gallery, newest first; `older` is the `before` of the next page (None
    on the last one)."""

    guild_id: int
    jobs: tuple[Job, ...]
    older: int | None


def gallery_path(guild_id: int, job_id: int | None = None) -> str:
    """Where the web face shows a guild's gallery, or one job of it (the Discord side links
    there too)."""
    return f"/g/{guild_id}" if job_id is None else f"/g/{guild_id}/{job_id}"


def shown_in_gallery(guild_id: int, newer_than: Any = None) -> ColumnElement[bool]:
    """SQL: a job the gallery of `guild_id` shows (the visibility policy, narrowed)."""
    cond = and_(
        visible_to(Viewer(ANYONE, guild_id)),
        JobRow.guild_id == guild_id,
        JobRow.status == JobStatus.SUCCEEDED.value,
        JobRow.result_sha.is_not(None),
    )
    if newer_than is not None:
        cond = and_(cond, JobRow.finished_at > newer_than)
    return cond


def _uses(sha: str) -> ColumnElement[bool]:
    """SQL: the job uses image `sha` (as its result, its content or one of its styles)."""
    return or_(
        JobRow.result_sha == sha,
        JobRow.content_sha == sha,
        exists().where(JobStyle.job_id == JobRow.id, JobStyle.image_sha == sha),
    )


class GalleryMixin(Database):
    async def gallery_enabled(self, guild_id: int) -> bool:
        """Whether the admins of `guild_id` turned its gallery on (False for unknown guilds)."""
        async with self.read() as conn:
            return bool(await conn.scalar(self._gallery_switch(guild_id)))

    async def set_gallery(self, guild_id: int, enabled: bool) -> bool:
        """Turn a guild's gallery on or off (`/config gallery`); returns the new value."""
        for _ in range(2):  # two first-time writers may race to insert the row: retry once
            try:
                async with self.write() as conn:
                    now = self.clock()
                    changed = await conn.execute(
                        update(GuildSettingsRow)
                        .where(GuildSettingsRow.guild_id == guild_id)
                        .values(gallery=enabled, updated_at=now)
                    )
                    if not changed.rowcount:
                        await conn.execute(
                            insert(GuildSettingsRow).values(
                                guild_id=guild_id,
                                allowed_channel_ids="",
                                gallery=enabled,
                                updated_at=now,
                            )
                        )
                return enabled
            except IntegrityError:
                continue
        return await self.gallery_enabled(guild_id)

    async def gallery(
        self,
        guild_id: int,
        *,
        before: int | None = None,
        limit: int = 24,
        retention_days: float | None = None,
    ) -> GalleryPage | None:
        """A page of the guild's gallery, newest first: jobs with ids below `before` (keyset
        paging). None when the gallery is off or the guild unknown. `retention_days` hides
        jobs already past retention that the hourly purge has not removed yet."""
        limit = max(1, min(limit, MAX_PAGE))
        stmt = select(*JOB_COLUMNS).where(self._shown(guild_id, retention_days))
        if before is not None:
            stmt = stmt.where(JobRow.id < before)
        async with self.read() as conn:
            jobs = await self._load_jobs(conn, stmt.order_by(JobRow.id.desc()).limit(limit + 1))
            # The switch is part of the query; only an empty page needs to ask which it was.
            if not jobs and not await conn.scalar(self._gallery_switch(guild_id)):
                return None
        older = jobs[limit - 1].id if len(jobs) > limit else None
        return GalleryPage(guild_id, tuple(jobs[:limit]), older)

    async def gallery_job(
        self, guild_id: int, job_id: int, *, retention_days: float | None = None
    ) -> Job | None:
        """One job of the guild's gallery, or None (gallery off, or not a gallery job)."""
        stmt = select(*JOB_COLUMNS).where(
            JobRow.id == job_id, self._shown(guild_id, retention_days)
        )
        async with self.read() as conn:
            jobs = await self._load_jobs(conn, stmt)
        return jobs[0] if jobs else None

    async def gallery_has_image(
        self, guild_id: int, job_id: int, sha: str, *, retention_days: float | None = None
    ) -> bool:
        """Whether image `sha` (its result, content or a style) belongs to a job of the
        guild's gallery: the check behind every gallery image, in one query."""
        stmt = select(JobRow.id).where(
            JobRow.id == job_id, self._shown(guild_id, retention_days), _uses(sha)
        )
        async with self.read() as conn:
            return await conn.scalar(stmt) is not None

    async def gallery_thumbnail(
        self,
        guild_id: int,
        job_id: int,
        sha: str,
        side: int,
        *,
        retention_days: float | None = None,
    ) -> tuple[bool, StoredImage | None]:
        """(shown, thumbnail): whether image `sha` belongs to a job of the guild's gallery
        (as `gallery_has_image`) and, if so, its thumbnail at `side` when one was made; one
        query, as it runs for every image of every gallery page."""
        stmt = (
            select(JobRow.id, Thumbnail.data, Thumbnail.fmt, Thumbnail.width, Thumbnail.height)
            .select_from(JobRow)
            .outerjoin(Thumbnail, and_(Thumbnail.image_sha == sha, Thumbnail.side == side))
            .where(JobRow.id == job_id, self._shown(guild_id, retention_days), _uses(sha))
        )
        async with self.read() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return False, None
        if row.data is None:
            return True, None
        return True, StoredImage(sha, row.data, row.fmt, row.width, row.height)

    def _shown(self, guild_id: int, retention_days: float | None) -> ColumnElement[bool]:
        cutoff = None
        if retention_days is not None:
            cutoff = self.clock() - timedelta(days=retention_days)
        switched_on = exists().where(
            GuildSettingsRow.guild_id == guild_id, GuildSettingsRow.gallery.is_(True)
        )
        return and_(shown_in_gallery(guild_id, cutoff), switched_on)

    @staticmethod
    def _gallery_switch(guild_id: int) -> Any:
        return select(GuildSettingsRow.gallery).where(GuildSettingsRow.guild_id == guild_id)
