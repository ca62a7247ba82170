"""Bot-side job operations: submitting (with queue caps), looking up, cancelling, history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import insert, select, text, update

from bot.store.admission import AdmissionMixin
from bot.store.db import FINISHED_DELIVERY, JOB_COLUMNS, row_to_job
from bot.store.models import Image, JobRow
from bot.store.types import (
    INTERACTION_TOKEN_TTL_S,
    MAX_STRENGTH,
    MAX_STYLES,
    MIN_SIZE,
    MIN_STRENGTH,
    PRESETS,
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

INITS = ("content", "noise", "style")


def _validate(params: JobParams, styles: Sequence[tuple[ImageBlob, float]]) -> None:
    def bad(message: str) -> QueueRefused:
        return QueueRefused("bad_params", message)

    if params.preset not in PRESETS:
        raise bad(f"Unknown preset {params.preset!r}; choose one of {', '.join(PRESETS)}.")
    if params.size < MIN_SIZE:
        raise bad(f"The output size must be at least {MIN_SIZE} px (got {params.size}).")
    if not MIN_STRENGTH <= params.style_strength <= MAX_STRENGTH:
        raise bad(
            f"Style strength must be between {MIN_STRENGTH} and {MAX_STRENGTH} "
            f"(got {params.style_strength})."
        )
    if params.init not in INITS:
        raise bad(f"Unknown init {params.init!r}; choose one of {', '.join(INITS)}.")
    if not 1 <= len(styles) <= MAX_STYLES:
        raise bad(f"Give between 1 and {MAX_STYLES} style images (got {len(styles)}).")
    for _, weight in styles:
        if not weight > 0:
            raise bad(f"Style weights must be positive (got {weight}).")


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
        """Queue a job, or raise `QueueRefused` with a reason the user can act on."""
        _validate(params, styles)
        async with self.write() as conn:
            now = self.clock()
            if not self.is_sqlite:
                # Serialise one user's submissions so two at once can't both pass the cap.
                await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": owner_id})
            # The same rules the bot checked with `admit` before downloading anything; again
            # here, inside the write transaction, so a race between two submissions can't pass.
            await self._admit(conn, owner_id, guild_id, channel_id, params.size)
            if params.parent_job_id is not None:
                parent = await conn.scalar(
                    select(JobRow.id).where(JobRow.id == params.parent_job_id)
                )
                if parent is None:
                    raise QueueRefused(
                        "parent_not_found", f"Job #{params.parent_job_id} no longer exists."
                    )
            content_sha = await self._put_image(
                conn, content.data, content.fmt, content.width, content.height
            )
            style_refs = [
                (await self._put_image(conn, s.data, s.fmt, s.width, s.height), w)
                for s, w in styles
            ]
            values = {
                "owner_id": owner_id,
                "guild_id": guild_id,
                "channel_id": channel_id,
                "status": JobStatus.QUEUED.value,
                "content_sha": content_sha,
                "content_source_id": content.source_user_id or owner_id,
                "size": params.size,
                "preset": params.preset,
                "style_strength": params.style_strength,
                "preserve_colors": params.preserve_colors,
                "init": params.init,
                "seed": params.seed,
                "private": params.private,
                "dm_on_done": params.dm_on_done,
                "parent_job_id": params.parent_job_id,
                "attempts": 0,
                "crashes": 0,
                "created_at": now,
                "updated_at": now,
            }
            if interaction is not None:
                expires = interaction.expires_at or now + timedelta(seconds=INTERACTION_TOKEN_TTL_S)
                values |= {
                    "application_id": interaction.application_id,
                    "interaction_token": interaction.token,
                    "token_expires_at": expires,
                    "response_message_id": interaction.message_id,
                }
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
