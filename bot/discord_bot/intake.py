"""Turning a deferred interaction into a queued job, shared by slash, context-menu and buttons."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import discord

from bot.discord_bot.buttons import cancel_view
from bot.discord_bot.errors import JobNotFound, UserFacingError
from bot.discord_bot.installs import interaction_ref, job_guild_id
from bot.discord_bot.render import queued_text
from bot.discord_bot.validation import ValidImage
from bot.discord_bot.variants import variant_params
from bot.discord_bot.viewer import job_not_found, viewer_of
from bot.store import (
    ImageBlob,
    Job,
    JobParams,
    QueueRefused,
    can_rerun,
)
from nst_engine.params import JOB_PARAMS

if TYPE_CHECKING:
    from bot.discord_bot.client import NSTBot

log = logging.getLogger(__name__)


def blob(img: ValidImage) -> ImageBlob:
    """A validated upload as the store takes it."""
    return ImageBlob(img.data, img.fmt, img.width, img.height)


def _first_set(*values: Any) -> Any:
    return next(v for v in values if v is not None)


async def resolve_params(bot: NSTBot, user_id: int, options: Mapping[str, Any]) -> JobParams:
    """Command options (keyed by option name: every slash job parameter of
    `nst_engine.params`, and `private`), else the user's saved defaults, else the bot's."""
    saved = await bot.store.get_user_settings(user_id)
    values = {
        p.name: _first_set(
            options.get(p.option_name),
            getattr(saved, p.name) if p.saved_description else None,
            bot.settings.job_default(p.name),
        )
        for p in JOB_PARAMS
        if p.slash
    }
    return JobParams(
        **values,
        private=_first_set(options.get("private"), saved.private, False),
        dm_on_done=bool(saved.dm_on_done),
    )


async def defer(interaction: discord.Interaction[NSTBot], *, private: bool) -> None:
    """Acknowledge at once (Discord allows 3 s); public defers are remembered for error replies."""
    if not interaction.response.is_done():
        await interaction.response.defer(ephemeral=private, thinking=True)
        interaction.extras["public_defer"] = not private


async def enqueue(
    bot: NSTBot,
    interaction: discord.Interaction[NSTBot],
    content: ImageBlob,
    styles: Sequence[tuple[ImageBlob, float]],
    params: JobParams,
) -> Job:
    """Submit the job and turn the deferred reply into its queue card with a Cancel button."""
    try:
        job = await bot.store.submit(
            interaction.user.id,
            job_guild_id(interaction),
            interaction.channel_id,
            content,
            styles,
            params,
            interaction_ref(interaction),
        )
    except QueueRefused as exc:
        raise UserFacingError(exc.message, code=exc.code) from None
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


async def rerun(
    bot: NSTBot, interaction: discord.Interaction[NSTBot], job_id: int, variant: str
) -> Job:
    """A new job from a stored job's inputs with one parameter changed.

    Only of a job `can_rerun` allows (the owner's, or a public one from inside its guild);
    any other answers like a missing job. The inputs keep whose images they are, so
    forgetting that person also removes this re-run.
    """
    parent = await bot.store.get_job(job_id)
    if parent is None or not can_rerun(parent, viewer_of(interaction)):
        raise job_not_found(job_id)
    params = variant_params(parent, variant, max_size=bot.settings.max_size)
    if params is None:
        raise UserFacingError(f"Unknown variation `{variant}`.", code="bad_variant")
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
        interaction.user.id, job_guild_id(interaction), interaction.channel_id, params.size
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
