"""Getting a finished job's outcome to its owner, whatever happened to the interaction.

Order: edit the deferred interaction response; if its token expired (15 min, 401/50027) or the
message is gone, post in the channel with a mention; if the channel refuses (403), DM the
owner. Where it went is recorded in the store, so a restart delivers what is still pending.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import discord
from PIL import Image

from bot.discord_bot.render import finished_text, queued_text, result_embed, running_text
from bot.store import Job, JobStatus, QueueInfo
from nst_engine.images import encode_jpeg, fit_within

if TYPE_CHECKING:
    from bot.discord_bot.client import NSTBot

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
# Discord error codes meaning "this interaction/webhook can no longer be used".
TOKEN_GONE_CODES = {50027, 10015, 10008}  # invalid webhook token, unknown webhook, unknown message
EXPIRY_MARGIN = timedelta(seconds=10)


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str

    def file(self) -> discord.File:
        # A fresh File per attempt: a failed send leaves the previous one's buffer consumed.
        return discord.File(io.BytesIO(self.data), filename=self.filename)


def fit_upload(png: bytes, limit: int, stem: str) -> Upload:
    """The result as PNG when it fits `limit`, else JPEG, downscaled until it fits."""
    if len(png) <= limit:
        return Upload(png, f"{stem}.png")
    img = Image.open(io.BytesIO(png)).convert("RGB")
    side = max(img.size)
    for quality in (92, 85):
        data = encode_jpeg(img, quality=quality)
        if len(data) <= limit:
            return Upload(data, f"{stem}.jpg")
    while side > 64:
        side = int(side * 0.75)
        data = encode_jpeg(fit_within(img, side), quality=85)
        if len(data) <= limit:
            return Upload(data, f"{stem}.jpg")
    return Upload(encode_jpeg(fit_within(img, 64), quality=60), f"{stem}.jpg")


def token_usable(job: Job) -> bool:
    ref = job.interaction
    return bool(ref and ref.token and ref.expires_at - EXPIRY_MARGIN > datetime.now(UTC))


def token_gone(exc: discord.HTTPException) -> bool:
    return exc.status == 401 or exc.code in TOKEN_GONE_CODES or exc.status == 404


def interaction_webhook(bot: NSTBot, job: Job) -> discord.Webhook:
    assert job.interaction is not None and job.interaction.token is not None
    return discord.Webhook.partial(
        job.interaction.application_id, job.interaction.token, client=bot
    )


async def _edit_original(bot: NSTBot, job: Job, **kwargs) -> bool:
    """Edit the job's interaction response; False when its token is gone."""
    if not token_usable(job):
        return False
    try:
        await interaction_webhook(bot, job).edit_message("@original", **kwargs)
    except discord.HTTPException as exc:
        if token_gone(exc):
            return False
        raise
    return True


async def edit_progress(bot: NSTBot, job: Job) -> bool:
    """Show a running job's progress bar and latest preview; False when the token is gone."""
    from bot.discord_bot.views import cancel_view

    if not token_usable(job):
        return False  # before reading the preview from the store
    kwargs: dict = {"content": running_text(job), "view": cancel_view(job.id)}
    if job.preview_sha:
        preview = await bot.store.get_image(job.preview_sha)
        if preview is not None:
            name = f"preview-{job.id}.{'png' if preview.fmt == 'png' else 'jpg'}"
            embed = discord.Embed(colour=discord.Colour.blurple())
            embed.set_image(url=f"attachment://{name}")
            kwargs["embed"] = embed
            kwargs["attachments"] = [Upload(preview.data, name).file()]
    return await _edit_original(bot, job, **kwargs)


async def edit_queued(bot: NSTBot, job: Job, info: QueueInfo, online: int) -> bool:
    """Show a waiting job's current queue position; False when the token is gone."""
    from bot.discord_bot.views import cancel_view

    return await _edit_original(
        bot, job, content=queued_text(job, info, online), view=cancel_view(job.id)
    )


async def deliver(bot: NSTBot, job: Job) -> str:
    """Deliver a finished job's outcome; returns the channel used (recorded in the store)."""
    from bot.discord_bot.views import result_view

    result: Result | None = None
    if job.status == JobStatus.SUCCEEDED and job.result_sha:
        stored = await bot.store.get_image(job.result_sha)
        if stored is not None:
            result = Result(stored.data, f"pastiche-{job.id}", bot.upload_limit(job.id))
            await result.prepare()
    view = result_view(job.id) if result else None
    mentions = discord.AllowedMentions(users=[discord.Object(job.owner_id)])

    def payload(upload: Upload | None, *, mention: bool = False) -> dict:
        return {
            "content": finished_text(job, f"<@{job.owner_id}>" if mention else None),
            "embed": result_embed(job, upload.filename) if upload else None,
            "view": view,  # None removes the Cancel button from the edited response
        }

    # 1. The interaction response itself.
    if token_usable(job):
        hook = interaction_webhook(bot, job)

        async def edit(upload: Upload | None) -> discord.Message:
            files = [upload.file()] if upload else []
            return await hook.edit_message("@original", attachments=files, **payload(upload))

        try:
            msg = await _send(edit, result)
            await bot.store.mark_delivered(job.id, msg.id, msg.channel.id, "interaction")
            await _dm_note(bot, job, msg)
            return "interaction"
        except discord.HTTPException as exc:
            if not token_gone(exc):
                raise
            log.info(
                "job %d: interaction token no longer valid (%s); falling back", job.id, exc.code
            )

    if job.status == JobStatus.CANCELLED:
        # The owner cancelled it themselves; a channel post would be noise.
        await bot.store.mark_delivered(job.id, None, None, "none")
        return "none"

    # 2. The channel, with a mention (not for private jobs).
    if job.channel_id and not job.params.private:
        channel = bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)

        async def post(upload: Upload | None) -> discord.Message:
            extra = {"file": upload.file()} if upload else {}
            return await channel.send(
                allowed_mentions=mentions, **payload(upload, mention=True), **extra
            )

        try:
            msg = await _send(post, result)
            await bot.store.mark_delivered(job.id, msg.id, msg.channel.id, "channel")
            await _dm_note(bot, job, msg)
            return "channel"
        except (discord.Forbidden, discord.NotFound) as exc:
            log.info("job %d: channel refused (%s); trying a DM", job.id, exc.status)

    # 3. A direct message.
    try:
        user = bot.get_user(job.owner_id) or await bot.fetch_user(job.owner_id)

        async def dm(upload: Upload | None) -> discord.Message:
            extra = {"file": upload.file()} if upload else {}
            return await user.send(**payload(upload), **extra)

        msg = await _send(dm, result)
        await bot.store.mark_delivered(job.id, msg.id, msg.channel.id, "dm")
        return "dm"
    except (discord.Forbidden, discord.NotFound) as exc:
        log.warning("job %d: could not deliver anywhere (DM refused: %s)", job.id, exc.status)
        await bot.store.mark_delivered(job.id, None, None, "none")
        return "none"


class Result:
    """The result image, re-encoded to fit an upload limit that may turn out to be lower."""

    def __init__(self, png: bytes, stem: str, limit: int) -> None:
        self.png = png
        self.stem = stem
        self.limit = limit
        self.upload: Upload | None = None

    async def prepare(self) -> Upload:
        self.upload = await asyncio.to_thread(fit_upload, self.png, self.limit, self.stem)
        return self.upload

    async def shrink(self) -> Upload:
        """After a 413: try again at half the size that was refused."""
        assert self.upload is not None
        self.limit = max(16 * 1024, len(self.upload.data) // 2)
        return await self.prepare()


async def _send(
    send: Callable[[Upload | None], Awaitable[discord.Message]], result: Result | None
) -> discord.Message:
    """Send, shrinking the upload when Discord answers 413 (the limit was lower than known)."""
    for _ in range(4):
        try:
            return await send(result.upload if result else None)
        except discord.HTTPException as exc:
            if result is None or not (exc.status == 413 or exc.code == 40005):
                raise
            log.info("upload of %d bytes refused as too large; shrinking", len(result.upload.data))
            await result.shrink()
    return await send(result.upload if result else None)


async def _dm_note(bot: NSTBot, job: Job, msg: discord.Message) -> None:
    """For users who asked (`/settings dm_when_done`): a DM with a link to the result."""
    if not job.params.dm_on_done or job.status != JobStatus.SUCCEEDED:
        return
    guild = job.guild_id or "@me"
    link = f"https://discord.com/channels/{guild}/{msg.channel.id}/{msg.id}"
    try:
        user = bot.get_user(job.owner_id) or await bot.fetch_user(job.owner_id)
        await user.send(f"✅ Your pastiche **#{job.id}** is ready: {link}")
    except discord.HTTPException as exc:  # closed DMs: the result itself was delivered
        log.info("job %d: DM note refused (%s)", job.id, exc.status)
