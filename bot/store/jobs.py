"""Bot-side job operations: submitting (with queue caps), looking up, cancelling, history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func, insert, select, text, update

from bot.store.db import JOB_COLUMNS, Database, row_to_job
from bot.store.models import GuildSettingsRow, Image, JobRow
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


class JobsMixin(Database):
    per_user_queue_limit: int
    global_queue_limit: int
    cooldown_s: float
    max_size: int | None

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
            user_limit = self.per_user_queue_limit
            max_size = self.max_size
            if guild_id is not None:
                guild = (
                    await conn.execute(
                        select(GuildSettingsRow).where(GuildSettingsRow.guild_id == guild_id)
                    )
                ).first()
                if guild is not None:
                    allowed = [int(c) for c in guild.allowed_channel_ids.split(",") if c]
                    if allowed and channel_id not in allowed:
                        where = ", ".join(f"<#{c}>" for c in allowed)
                        raise QueueRefused(
                            "channel_not_allowed",
                            f"Style transfer is not enabled in this channel; use {where}.",
                        )
                    if guild.per_user_queue_limit is not None:
                        user_limit = guild.per_user_queue_limit
                    if guild.max_size is not None:
                        max_size = min(max_size or guild.max_size, guild.max_size)
            if max_size is not None and params.size > max_size:
                raise QueueRefused(
                    "too_large",
                    f"The largest output allowed here is {max_size} px (you asked for "
                    f"{params.size} px).",
                )
            active = [JobStatus.QUEUED.value, JobStatus.RUNNING.value]
            mine, queued = (
                await conn.execute(
                    select(
                        func.count().filter(JobRow.owner_id == owner_id, JobRow.status.in_(active)),
                        func.count().filter(JobRow.status == JobStatus.QUEUED.value),
                    ).where(JobRow.status.in_(active))
                )
            ).one()
            if mine >= user_limit:
                raise QueueRefused(
                    "user_limit",
                    f"You already have {mine} job(s) waiting or running (the limit is "
                    f"{user_limit}). Wait for one to finish or cancel one.",
                )
            if self.cooldown_s > 0:
                last = await conn.scalar(
                    select(func.max(JobRow.created_at)).where(JobRow.owner_id == owner_id)
                )
                if (
                    last is not None
                    and (wait := (last - now).total_seconds() + self.cooldown_s) > 0
                ):
                    raise QueueRefused(
                        "cooldown", f"Please wait {wait:.0f} s before starting another job."
                    )
            if queued >= self.global_queue_limit:
                raise QueueRefused(
                    "queue_full",
                    f"The queue is full ({queued} jobs waiting). Please try again in a few "
                    "minutes.",
                )
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
            await self._insert_styles(conn, row["id"], style_refs)
        return row_to_job(row, style_refs)

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

    async def request_cancel(self, job_id: int, user_id: int, *, admin: bool = False) -> Job:
        """Cancel a queued job at once, or flag a running one for its executor to stop."""
        async with self.write() as conn:
            now = self.clock()
            row = (
                await conn.execute(
                    select(JobRow.owner_id, JobRow.status).where(JobRow.id == job_id)
                )
            ).first()
            if row is None:
                raise CancelRefused("not_found", f"There is no job #{job_id}.")
            if row.owner_id != user_id and not admin:
                raise CancelRefused("not_owner", f"Job #{job_id} is not yours to cancel.")
            status = JobStatus(row.status)
            if status.finished:
                raise CancelRefused("already_finished", f"Job #{job_id} has already {status}.")
            if status is JobStatus.QUEUED:
                values = {"status": JobStatus.CANCELLED.value, "finished_at": now}
            else:
                values = {}
            await conn.execute(
                update(JobRow)
                .where(JobRow.id == job_id)
                .values(cancel_requested_at=now, updated_at=now, **values)
            )
            job = await self._load_job(conn, job_id)
        assert job is not None
        return job
