"""Getting a finished job's outcome to its owner, whatever happened to the interaction.

Order: edit the deferred interaction response; if its token expired (15 min, 401/50027) or the
message is gone, post in the channel with a mention; if the channel refuses (403), DM the
owner. Jobs made through the user-installed app where the bot is no member skip the channel
(`installs.py`): the interaction, then the DM. Uploads fit the job's upload limit
(`uploads.py`). Only the holder of the job's delivery lease posts (`lease.py`); each
destination is recorded before it is tried and channel/DM posts carry a nonce fixed by job and
destination, so a crash anywhere neither loses the result nor posts it twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot.discord_bot.installs import user_install_job
from bot.discord_bot.lease import Lease, LeaseLost
from bot.discord_bot.render import queued_text, running_text
from bot.discord_bot.result_post import prepare_result, result_message
from bot.discord_bot.uploads import Result, Upload, fitted, send_fitting, upload_limit
from bot.store import Job, JobStatus, QueueInfo
from bot.store.types import DeliveryTarget as Target

if TYPE_CHECKING:
    from bot.discord_bot.client import NSTBot

log = logging.getLogger(__name__)

# Discord error codes meaning "this interaction/webhook can no longer be used".
TOKEN_GONE_CODES = {50027, 10015, 10008}  # invalid webhook token, unknown webhook, unknown message
EXPIRY_MARGIN = timedelta(seconds=10)
UNKNOWN_MESSAGE = 10008  # also the answer to a repeated nonce whose first message was deleted


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
        # Classic cards only (content/embed/view/attachments given by keyword): the overload
        # is picked at run time.
        await interaction_webhook(bot, job).edit_message("@original", **kwargs)  # type: ignore[call-overload]
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
            upload = await fitted(preview.data, upload_limit(job), f"preview-{job.id}")
            embed = discord.Embed(colour=discord.Colour.blurple())
            embed.set_image(url=f"attachment://{upload.filename}")
            kwargs["embed"] = embed
            kwargs["attachments"] = [upload.file()]
    return await _edit_original(bot, job, **kwargs)


async def edit_queued(bot: NSTBot, job: Job, info: QueueInfo, online: int) -> bool:
    """Show a waiting job's current queue position; False when the token is gone."""
    from bot.discord_bot.views import cancel_view

    return await _edit_original(
        bot, job, content=queued_text(job, info, online), view=cancel_view(job.id)
    )


TARGETS = tuple(Target)  # the order tried: interaction, channel, DM
REFUSED = {
    Target.INTERACTION: "interaction token no longer valid",
    Target.CHANNEL: "channel refused",
    Target.DM: "DM refused",
}


class Undeliverable(Exception):
    """Every destination refused for good (403/404, no channel, closed DMs)."""


def nonce(job_id: int, kind: str) -> str:
    """The nonce of a channel or DM post: from the job and the destination only, so every
    attempt (after a crash, in another bot process) carries the same one and Discord drops a
    repeat (`enforce_nonce`). kind: "c" channel, "d" DM, "n" the DM note. ≤ 25 characters."""
    return f"nst{job_id}{kind}"


async def deliver(bot: NSTBot, job: Job, lease: Lease) -> str:
    """Deliver a finished job whose delivery `lease` holds; returns the channel it went to.

    Starts at the destination recorded by an earlier attempt (a crash may have happened right
    after that post: retrying it with its nonce cannot post twice), records each destination
    before posting to it, and records the delivery, all fenced by the lease holder. Raises
    Undeliverable when every destination refused for good, LeaseLost when the lease is gone,
    and the Discord error itself when it is transient (the caller retries later).
    """
    result: Result | None = None
    if job.status == JobStatus.SUCCEEDED and job.result_sha:
        stored = await bot.store.get_image(job.result_sha)
        if stored is not None:
            result = await prepare_result(
                bot.store, job, stored.data, public_url=bot.settings.web_public_url
            )
    recorded = earlier = job.delivery.target
    first = TARGETS.index(Target(recorded)) if recorded in set(TARGETS) else 0
    refusals: list[str] = []
    for target in TARGETS[first:]:
        if (
            target == Target.INTERACTION
            and not token_usable(job)
            and (shown := await _edited_before(bot, job, earlier)) is not None
        ):
            await _record(bot, job, lease, shown.id, shown.channel.id, target.value)
            return target.value
        skip = _unusable(job, target)
        if skip:
            refusals.append(skip)
            continue
        lease.check()
        if target != recorded:
            if not await bot.store.set_delivery_target(job.id, lease.holder, target.value):
                raise LeaseLost(f"job {job.id}: delivery lease lost")
            recorded = target.value
        lease.posting_to = target.value
        try:
            msg = await _POSTERS[target](bot, job, result)
        except discord.HTTPException as exc:
            if target != Target.INTERACTION and exc.code == UNKNOWN_MESSAGE:
                # Our nonce's message exists no more: an earlier attempt posted it and it was
                # deleted since. Delivered; posting elsewhere would repeat it.
                where = job.channel_id if target == Target.CHANNEL else None
                await _record(bot, job, lease, None, where, target.value)
                return target.value
            if not _refused_for_good(exc, target):
                raise
            if (
                target == Target.INTERACTION  # gone before our clock said so: as above
                and (shown := await _edited_before(bot, job, earlier)) is not None
            ):
                await _record(bot, job, lease, shown.id, shown.channel.id, target.value)
                return target.value
            refusals.append(f"{REFUSED[target]} ({exc.status}, code {exc.code})")
            log.info("job %d: %s refused (%s); trying the next", job.id, target, exc.status)
            continue
        if target != Target.DM:  # the result itself went by DM: no note needed
            await _dm_note(bot, job, msg)
        await _record(bot, job, lease, msg.id, msg.channel.id, target.value)
        return target.value
    if job.status == JobStatus.CANCELLED:
        # The owner cancelled it themselves; a channel post would be noise.
        await _record(bot, job, lease, None, None, "none")
        return "none"
    raise Undeliverable("nowhere to deliver: " + "; ".join(refusals))


async def _edited_before(bot: NSTBot, job: Job, earlier: str | None) -> discord.Message | None:
    """When an earlier attempt edited the response (it may have died right after) and the
    token has gone since: the response, read with the bot token, if it already shows the
    result — a channel post would show it twice. None otherwise, also when it can't be read
    (an ephemeral response, no permission)."""
    ref = job.interaction
    readable = ref is not None and ref.message_id and job.channel_id and not job.params.private
    # Through a user install the bot can't read that channel (403): don't ask.
    readable = readable and not user_install_job(job)
    if earlier != Target.INTERACTION.value or job.result_sha is None or not readable:
        return None
    assert ref is not None and ref.message_id is not None and job.channel_id is not None
    channel = bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
    try:
        msg = await channel.fetch_message(ref.message_id)
    except (discord.HTTPException, OSError):
        return None
    stem = f"pastiche-{job.id}."
    return msg if any(a.filename.startswith(stem) for a in msg.attachments) else None


def _unusable(job: Job, target: Target) -> str | None:
    """Why `target` cannot be tried for this job at all (None: it can)."""
    if target == Target.INTERACTION:
        return None if token_usable(job) else "interaction token expired"
    if job.status == JobStatus.CANCELLED:
        return f"no {target.value} post for a cancelled job"
    if target == Target.CHANNEL and job.params.private:
        return "private job: no channel post"
    if target == Target.CHANNEL and user_install_job(job):
        return "made through the user-installed app: no channel post (the bot isn't there)"
    if target == Target.CHANNEL and not job.channel_id:
        return "no channel"
    return None


def _refused_for_good(exc: discord.HTTPException, target: Target) -> bool:
    if target == Target.INTERACTION:
        return token_gone(exc)
    return isinstance(exc, discord.Forbidden | discord.NotFound)


async def _record(
    bot: NSTBot, job: Job, lease: Lease, message_id: int | None, channel_id: int | None, via: str
) -> None:
    if not await bot.store.mark_delivered(job.id, lease.holder, message_id, channel_id, via):
        # Another holder took over meanwhile; its post carries the same nonce.
        raise LeaseLost(f"job {job.id}: delivered, but the lease had passed on")


async def _post_interaction(bot: NSTBot, job: Job, result: Result | None) -> discord.Message:
    hook = interaction_webhook(bot, job)

    async def edit(upload: Upload | None) -> discord.Message:
        payload = result_message(job, result, mention=False)
        files = payload.pop("files")
        # A LayoutView (a result) or none: the overload is picked at run time.
        return await hook.edit_message("@original", attachments=files, **payload)  # type: ignore[call-overload]

    return await send_fitting(edit, result)


async def _post_channel(bot: NSTBot, job: Job, result: Result | None) -> discord.Message:
    assert job.channel_id is not None
    channel = bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
    mentions = discord.AllowedMentions(users=[discord.Object(job.owner_id)])

    async def post(upload: Upload | None) -> discord.Message:
        payload = result_message(job, result, mention=True)
        return await channel.send(allowed_mentions=mentions, nonce=nonce(job.id, "c"), **payload)

    return await send_fitting(post, result)


async def _post_dm(bot: NSTBot, job: Job, result: Result | None) -> discord.Message:
    user = bot.get_user(job.owner_id) or await bot.fetch_user(job.owner_id)

    async def dm(upload: Upload | None) -> discord.Message:
        payload = result_message(job, result, mention=False)
        return await user.send(nonce=nonce(job.id, "d"), **payload)

    return await send_fitting(dm, result)


_POSTERS = {
    Target.INTERACTION: _post_interaction,
    Target.CHANNEL: _post_channel,
    Target.DM: _post_dm,
}


async def _dm_note(bot: NSTBot, job: Job, msg: discord.Message) -> None:
    """For users who asked (`/settings dm_when_done`): a DM with a link to the result.

    Sent before the delivery is recorded, with its own fixed nonce, so a retry after a crash
    neither loses nor repeats it. Best effort: the result itself is already posted.
    """
    if not job.params.dm_on_done or job.status != JobStatus.SUCCEEDED:
        return
    if user_install_job(job):
        # Its server is not recorded (the job is the owner's own): no link to build.
        where = " — see the reply to your command"
    else:
        guild = job.guild_id or "@me"
        where = f": https://discord.com/channels/{guild}/{msg.channel.id}/{msg.id}"
    try:
        user = bot.get_user(job.owner_id) or await bot.fetch_user(job.owner_id)
        await user.send(f"✅ Your pastiche **#{job.id}** is ready{where}", nonce=nonce(job.id, "n"))
    except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
        # Closed DMs or a lost connection: the result itself was delivered.
        log.info("job %d: DM note not sent (%s)", job.id, type(exc).__name__)
