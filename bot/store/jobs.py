"""Bot-side job operations: submitting (with queue caps), looking up, cancelling, history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.admission import AdmissionMixin
from bot.store.db import FINISHED_DELIVERY, JOB_COLUMNS, row_to_job
from bot.store.models import Image, JobRow
from bot.store.types import (
    INTERACTION_TOKEN_TTL_S,
    MAX_STYLES,
    CancelRefused,
    ImageBlob,
    InteractionRef,
    Job,
    JobParams,
    JobStatus,
    QueueRefused,
    StoredImage,
)
from bot.store.visibility import Viewer, can_see, unseen_message


def _check_rules(params: JobParams, styles: Sequence[tuple[ImageBlob, float]]) -> None:
    """The job's own rules (no database): every option valid, 1–MAX_STYLES positive weights."""

    def bad(message: str) -> QueueRefused:
        return QueueRefused("bad_params", message)

    # Every engine option against its one definition (nst_engine.params).
    if problems := params.problems():
        raise bad(problems[0])
    if not 1 <= len(styles) <= MAX_STYLES:
        raise bad(f"Give between 1 and {MAX_STYLES} style images (got {len(styles)}).")
    for _, weight in styles:
        if not weight > 0:
            raise bad(f"Style weights must be positive (got {weight}).")


async def _check_parent(conn: AsyncConnection, parent_job_id: int | None) -> None:
    """A re-run's parent job must still exist (it may have been purged or forgotten)."""
    if parent_job_id is None:
        return
    if await conn.scalar(select(JobRow.id).where(JobRow.id == parent_job_id)) is None:
        raise QueueRefused("parent_not_found", f"Job #{parent_job_id} no longer exists.")


def _param_values(params: JobParams) -> dict[str, object]:
    """The `jobs` columns that hold the job's options."""
    return {
        "size": params.size,
        "preset": params.preset,
        "style_strength": params.style_strength,
        "preserve_colors": params.preserve_colors,
        "init": params.init,
        "seed": params.seed,
        "private": params.private,
        "dm_on_done": params.dm_on_done,
        "parent_job_id": params.parent_job_id,
    }


def _interaction_values(interaction: InteractionRef, now: datetime) -> dict[str, object]:
    """The `jobs` columns that say where the bot answers (the deferred interaction)."""
    expires = interaction.expires_at or now + timedelta(seconds=INTERACTION_TOKEN_TTL_S)
    return {
        "application_id": interaction.application_id,
        "interaction_token": interaction.token,
        "token_expires_at": expires,
        "response_message_id": interaction.message_id,
        "install_context": None
        if interaction.install_context is None
        else interaction.install_context.value,
        "upload_limit": interaction.upload_limit,
    }


class JobsMixin(AdmissionMixin):
    async def put_image(self, data: bytes, fmt: str, width: int, height: int) -> str:
        """Store an image once by SHA-256 and return the hex digest."""
        async with self.write() as conn:
            return await self._put_image(conn, data, fmt, width, height)

    async def get_image(self, sha: str) -> StoredImage | None:
        """The image with this SHA-256, or None."""
        async with self.read() as conn:
            row = (
                await conn.execute(
                    select(Image.sha, Image.data, Image.fmt, Image.width, Image.height).where(
                        Image.sha == sha
                    )
                )
            ).first()
        return StoredImage(*row) if row else None

    async def submit(
        self,
        owner_id: int,
        guild_id: int | None,
        channel_id: int | None,
        content: ImageBlob,
        styles: Sequence[tuple[ImageBlob, float]],
        params: JobParams,
        interaction: InteractionRef | None = None,
    ) -> Job:
        """Queue a job, or raise `QueueRefused` with a reason the user can act on.

        Three steps: the job's own rules (no database), the place's quota (`_check_quota`, inside
        the write transaction so that two racing submissions can't both pass), the insert."""
        _check_rules(params, styles)
        async with self.write() as conn:
            await self._check_quota(conn, owner_id, guild_id, channel_id, params.size)
            await _check_parent(conn, params.parent_job_id)
            job = await self._insert_job(
                conn, owner_id, guild_id, channel_id, content, styles, params, interaction
            )
        return job

    async def _insert_job(
        self,
        conn: AsyncConnection,
        owner_id: int,
        guild_id: int | None,
        channel_id: int | None,
        content: ImageBlob,
        styles: Sequence[tuple[ImageBlob, float]],
        params: JobParams,
        interaction: InteractionRef | None,
    ) -> Job:
        """Store the images and insert the job and its style rows (the checks have passed)."""
        now = self.clock()
        content_sha = await self._put_image(
            conn, content.data, content.fmt, content.width, content.height
        )
        style_refs = [
            (await self._put_image(conn, s.data, s.fmt, s.width, s.height), w) for s, w in styles
        ]
        values = {
            "owner_id": owner_id,
            "guild_id": guild_id,
            "channel_id": channel_id,
            "status": JobStatus.QUEUED.value,
            "content_sha": content_sha,
            "content_source_id": content.source_user_id or owner_id,
            **_param_values(params),
            "attempts": 0,
            "crashes": 0,
            "created_at": now,
            "updated_at": now,
        }
        if interaction is not None:
            values |= _interaction_values(interaction, now)
        row = (
            (await conn.execute(insert(JobRow).values(**values).returning(*JOB_COLUMNS)))
            .mappings()
            .one()
        )
        style_sources = [s.source_user_id or owner_id for s, _ in styles]
        await self._insert_styles(conn, row["id"], style_refs, style_sources)
        return row_to_job(row, style_refs, style_sources)

    async def get_job(self, job_id: int) -> Job | None:
        """The job, or None if it never existed or was purged."""
        async with self.read() as conn:
            return await self._load_job(conn, job_id)

    async def set_response_message(self, job_id: int, message_id: int) -> None:
        """Remember the id of the deferred response message (known after the first edit)."""
        async with self.write() as conn:
            await conn.execute(
                update(JobRow)
                .where(JobRow.id == job_id)
                .values(response_message_id=message_id, updated_at=self.clock())
            )

    async def request_cancel(
        self, job_id: int, viewer: Viewer | int, *, admin: bool = False
    ) -> Job:
        """Cancel a queued job at once, or flag a running one for its executor to stop.

        Allowed to the owner, and (`admin`: Manage Server where the viewer is now) to admins
        of the guild the job was made in, never of another guild. A job the viewer may not
        see is refused exactly like one that does not exist.
        """
        if isinstance(viewer, int):  # operators and tests: a user outside any guild
            viewer = Viewer(viewer)
        async with self.write() as conn:
            now = self.clock()
            job = await self._load_job(conn, job_id)
            # Admin rights count only in the job's own guild (a DM job has no moderators).
            moderates = (
                admin
                and job is not None
                and job.guild_id is not None
                and job.guild_id == viewer.guild_id
            )
            if job is None or not (moderates or can_see(job, viewer)):
                raise CancelRefused("not_found", unseen_message(job_id))
            if job.owner_id != viewer.user_id and not moderates:
                raise CancelRefused("not_owner", f"Job #{job_id} is not yours to cancel.")
            if job.status.finished:
                raise CancelRefused("already_finished", f"Job #{job_id} has already {job.status}.")
            values: dict[str, object] = {}
            if job.status is JobStatus.QUEUED:
                values = {"status": JobStatus.CANCELLED.value, "finished_at": now}
                values |= FINISHED_DELIVERY
            await conn.execute(
                update(JobRow)
                .where(JobRow.id == job_id)
                .values(cancel_requested_at=now, updated_at=now, **values)
            )
            job = await self._load_job(conn, job_id)
        assert job is not None
        return job
