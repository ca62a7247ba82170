"""Turning a deferred interaction into a queued job, shared by slash, context-menu and buttons."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import discord

from bot.discord_bot.errors import JobNotFound, UserFacingError
from bot.discord_bot.render import queued_text
from bot.discord_bot.validation import ValidImage
from bot.discord_bot.viewer import job_not_found, viewer_of
from bot.store import (
    INTERACTION_TOKEN_TTL_S,
    ImageBlob,
    InteractionRef,
    Job,
    JobParams,
    QueueRefused,
    can_rerun,
)

if TYPE_CHECKING:
    from bot.discord_bot.client import NSTBot

log = logging.getLogger(__name__)

VARIANTS = ("stronger", "weaker", "colours", "larger")
VARIANT_LABELS = {
    "stronger": ("Stronger style", "💪"),
    "weaker": ("Weaker style", "🪶"),
    "colours": ("Keep colours", "🎨"),
    "larger": ("Larger", "🔍"),
}


def blob(img: ValidImage) -> ImageBlob:
    return ImageBlob(img.data, img.fmt, img.width, img.height)


async def resolve_params(
    bot: NSTBot,
    user_id: int,
    *,
    size: int | None = None,
    preset: str | None = None,
    strength: float | None = None,
    preserve_colors: bool | None = None,
    private: bool | None = None,
) -> JobParams:
    """Command options, else the user's saved defaults, else the bot's defaults."""
    saved = await bot.store.get_user_settings(user_id)
    s = bot.settings

    def pick(option, mine, default):
        return option if option is not None else mine if mine is not None else default

    return JobParams(
        size=pick(size, saved.size, s.default_size),
        preset=pick(preset, saved.preset, s.default_preset),
        style_strength=pick(strength, saved.style_strength, 1.0),
        preserve_colors=pick(preserve_colors, saved.preserve_colors, False),
        private=pick(private, saved.private, False),
        dm_on_done=bool(saved.dm_on_done),
    )


def interaction_ref(interaction: discord.Interaction) -> InteractionRef:
    return InteractionRef(
        application_id=interaction.application_id,
        token=interaction.token,
        expires_at=interaction.created_at + timedelta(seconds=INTERACTION_TOKEN_TTL_S),
    )


async def defer(interaction: discord.Interaction, *, private: bool) -> None:
    """Acknowledge at once (Discord allows 3 s); public defers are remembered for error replies."""
    if not interaction.response.is_done():
        await interaction.response.defer(ephemeral=private, thinking=True)
        interaction.extras["public_defer"] = not private


async def enqueue(
    bot: NSTBot,
    interaction: discord.Interaction,
    content: ImageBlob,
    styles: Sequence[tuple[ImageBlob, float]],
    params: JobParams,
) -> Job:
    """Submit the job and turn the deferred reply into its queue card with a Cancel button."""
    from bot.discord_bot.views import cancel_view

    try:
        job = await bot.store.submit(
            interaction.user.id,
            interaction.guild_id,
            interaction.channel_id,
            content,
            styles,
            params,
            interaction_ref(interaction),
        )
    except QueueRefused as exc:
        raise UserFacingError(exc.message, code=exc.code) from None
    bot.remember_upload_limit(job.id, interaction.filesize_limit)
    log.info("job %d queued by user %d", job.id, interaction.user.id)
    info = await bot.store.queue_info(job.id)
    online = await bot.store.executors_online(stale_after_s=bot.settings.stale_after_s)
    message = await interaction.edit_original_response(
        content=queued_text(job, info, online), view=cancel_view(job.id)
    )
    await bot.store.set_response_message(job.id, message.id)
    if info is not None:
        bot.watcher.shown_position(job.id, info.position)
    return job


def variant_params(bot: NSTBot, job: Job, variant: str) -> JobParams:
    """The parameters of a re-run: the parent's with one change."""
    p = job.params
    if variant == "stronger":
        p = replace(p, style_strength=min(10.0, round(p.style_strength * 2, 3)))
    elif variant == "weaker":
        p = replace(p, style_strength=max(0.1, round(p.style_strength / 2, 3)))
    elif variant == "colours":
        p = replace(p, preserve_colors=True)
    elif variant == "larger":
        p = replace(p, size=min(bot.settings.max_size, round(p.size * 1.5)))
    else:
        raise UserFacingError(f"Unknown variation `{variant}`.", code="bad_variant")
    return replace(p, parent_job_id=job.id, seed=None)


async def rerun(bot: NSTBot, interaction: discord.Interaction, job_id: int, variant: str) -> Job:
    """A new job from a stored job's inputs with one parameter changed.

    Only of a job `can_rerun` allows (the owner's, or a public one from inside its guild);
    any other answers like a missing job. The inputs keep whose images they are, so
    forgetting that person also removes this re-run.
    """
    parent = await bot.store.get_job(job_id)
    if parent is None or not can_rerun(parent, viewer_of(interaction)):
        raise job_not_found(job_id)
    params = variant_params(bot, parent, variant)
    if parent.owner_id != interaction.user.id:
        # The new job is the re-runner's: shared and notified as they chose, not as the
        # parent's owner did.
        mine = await bot.store.get_user_settings(interaction.user.id)
        params = replace(params, private=bool(mine.private), dm_on_done=bool(mine.dm_on_done))
    if variant == "larger" and params.size == parent.params.size:
        raise UserFacingError(
            f"This is already the largest size allowed ({parent.params.size} px).", code="too_large"
        )
    await defer(interaction, private=params.private)
    # Limits first: a refused re-run reads no image bytes from the store.
    await bot.store.admit(
        interaction.user.id, interaction.guild_id, interaction.channel_id, params.size
    )
    content = await _stored_blob(bot, parent.content_sha, parent.content_source_id)
    styles = [
        (await _stored_blob(bot, sha, source), weight)
        for (sha, weight), source in zip(parent.styles, parent.style_source_ids, strict=True)
    ]
    return await enqueue(bot, interaction, content, styles, params)


async def _stored_blob(bot: NSTBot, sha: str, source_user_id: int) -> ImageBlob:
    """A stored input image as a blob for a new job, still credited to `source_user_id`."""
    img = await bot.store.get_image(sha)
    if img is None:
        raise JobNotFound("The input images of that job have been deleted.")
    return ImageBlob(img.data, img.fmt, img.width, img.height, source_user_id=source_user_id)
