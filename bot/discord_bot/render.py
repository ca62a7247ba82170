"""Message bodies for jobs: queued, running, finished, details and stats (no I/O; the
Components V2 result and `/history` layouts are in layouts.py)."""

from __future__ import annotations

from datetime import datetime

import discord

from bot.discord_bot.progress import format_duration, progress_text, queue_text
from bot.store import Job, JobStatus, QueueInfo, Stats
from bot.store.gallery import gallery_path
from bot.store.types import DeliveryState

COLOUR = {
    JobStatus.QUEUED: discord.Colour.light_grey(),
    JobStatus.RUNNING: discord.Colour.blurple(),
    JobStatus.SUCCEEDED: discord.Colour.green(),
    JobStatus.FAILED: discord.Colour.red(),
    JobStatus.CANCELLED: discord.Colour.dark_grey(),
}
STATUS_ICON = {
    JobStatus.QUEUED: "🕒",
    JobStatus.RUNNING: "🎨",
    JobStatus.SUCCEEDED: "✅",
    JobStatus.FAILED: "❌",
    JobStatus.CANCELLED: "🚫",
}


def settings_line(job: Job, *, weights: bool = True) -> str:
    """One line summarising a job's engine options (`weights`: with the styles' blend)."""
    p = job.params
    parts = [f"{p.size} px", p.preset, f"strength ×{p.style_strength:g}"]
    if p.preserve_colors:
        parts.append("original colours")
    if len(job.styles) > 1:
        blend = " (" + " + ".join(f"{w:g}" for _, w in job.styles) + ")" if weights else ""
        parts.append(f"{len(job.styles)} styles{blend}")
    if p.private:
        parts.append("private")
    return " · ".join(parts)


def job_choice_label(job: Job) -> str:
    """One line naming a job in `/job` suggestions (plain text: no markdown there)."""
    when = job.created_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"#{job.id} · {job.status.value} · {job.params.size} px {job.params.preset} · {when}"


def queued_text(job: Job, info: QueueInfo | None, executors: int | None = None) -> str:
    """Body of the deferred reply right after submission."""
    lines = [f"🕒 Job **#{job.id}** queued — {settings_line(job)}"]
    if info is not None and info.status == JobStatus.QUEUED:
        lines.append(queue_text(info.position, info.total_queued, info.eta_s))
    if executors == 0:
        lines.append("⚠️ No executor is online right now; the job will start when one is.")
    return "\n".join(lines)


def running_text(job: Job) -> str:
    head = f"🎨 Job **#{job.id}** running — {settings_line(job)}"
    if job.progress.total <= 0:
        return head + "\nStarting…"
    return f"{head}\n{_progress_body(job)}"


def _progress_body(job: Job) -> str:
    pr = job.progress
    return progress_text(
        step=pr.step, total_steps=pr.total, scale=pr.scale, scales=pr.scales, eta_s=pr.eta_s
    )


def finished_text(job: Job, mention: str | None = None) -> str:
    """Text of a finished job's message (mention first when posted outside the interaction)."""
    prefix = f"{mention} " if mention else ""
    if job.status == JobStatus.SUCCEEDED:
        return f"{prefix}✅ Your pastiche **#{job.id}** is ready."
    if job.status == JobStatus.CANCELLED:
        return f"{prefix}🚫 Job **#{job.id}** was cancelled."
    reason = job.error_message or "unknown error"
    return f"{prefix}❌ Job **#{job.id}** failed: {reason}"


def result_embed(job: Job, filename: str | None) -> discord.Embed:
    """The embed shown under a result: settings, time, job id and engine notes."""
    embed = discord.Embed(
        title=f"Pastiche #{job.id}",
        colour=COLOUR[job.status],
        timestamp=job.finished_at or job.updated_at,
    )
    embed.add_field(name="Settings", value=settings_line(job), inline=False)
    if job.elapsed_s is not None:
        embed.add_field(name="Time", value=format_duration(job.elapsed_s))
    embed.add_field(name="Job", value=f"`{job.id}`")
    if job.notes:
        embed.add_field(name="Notes", value=job.notes[:1000], inline=False)
    if filename:
        embed.set_image(url=f"attachment://{filename}")
    embed.set_footer(text="Buttons: re-run this job with a variation")
    return embed


def job_details(job: Job, info: QueueInfo | None) -> discord.Embed:
    """`/job` details."""
    embed = discord.Embed(
        title=f"{STATUS_ICON[job.status]} Job #{job.id} — {job.status.value}",
        colour=COLOUR[job.status],
        timestamp=job.created_at,
    )
    embed.add_field(name="Owner", value=f"<@{job.owner_id}>")
    embed.add_field(name="Settings", value=settings_line(job), inline=False)
    if job.status == JobStatus.QUEUED and info is not None:
        embed.add_field(
            name="Queue",
            value=queue_text(info.position, info.total_queued, info.eta_s),
        )
    if job.status == JobStatus.RUNNING and job.progress.total:
        embed.add_field(name="Progress", value=_progress_body(job), inline=False)
    if job.elapsed_s is not None:
        embed.add_field(name="Time", value=format_duration(job.elapsed_s))
    if job.error_message and job.status == JobStatus.FAILED:
        embed.add_field(name="Error", value=job.error_message[:1000], inline=False)
    delivery = delivery_line(job)
    if delivery:
        embed.add_field(name="Delivery", value=delivery, inline=False)
    link = message_link(job)
    if link:
        embed.add_field(name="Result", value=f"[jump to message]({link})")
    return embed


def delivery_line(job: Job) -> str | None:
    """Why a finished job's result has not reached Discord (None once delivered, or before)."""
    d = job.delivery
    if d.state == DeliveryState.UNDELIVERABLE:
        return f"⚠️ Could not be delivered: {d.error or 'no reason recorded'}"[:1000]
    if d.state in (DeliveryState.PENDING, DeliveryState.DELIVERING) and d.error:
        when = f", next try {timestamp(d.next_at)}" if d.next_at else ""
        return f"🔁 Delivery retrying (attempt {d.attempts} failed: {d.error}){when}"[:1000]
    return None


def message_link(job: Job) -> str | None:
    if job.delivered_message_id and job.delivered_channel_id:
        guild = job.guild_id or "@me"
        return (
            f"https://discord.com/channels/{guild}/{job.delivered_channel_id}/"
            f"{job.delivered_message_id}"
        )
    return None


def gallery_link(job: Job, public_url: str | None, gallery_on: bool) -> str | None:
    """A line linking a result to its page in the server's web gallery: only a public,
    succeeded guild job, where the web face has a public address (`WEB_PUBLIC_URL`) and the
    server's admins turned the gallery on (`/config gallery`); None otherwise."""
    if job.guild_id is None or job.status != JobStatus.SUCCEEDED or job.params.private:
        return None
    if not (public_url and gallery_on):
        return None
    url = public_url.rstrip("/") + gallery_path(job.guild_id, job.id)
    return f"🖼️ [In this server's gallery]({url})"


def timestamp(when: datetime) -> str:
    """A Discord timestamp that each reader sees relative to now ("3 hours ago")."""
    return f"<t:{int(when.timestamp())}:R>"


def stats_embed(guild: Stats | None, overall: Stats) -> discord.Embed:
    embed = discord.Embed(title="Statistics", colour=discord.Colour.blurple())

    def block(s: Stats) -> str:
        return (
            f"queued {s.queued} · running {s.running}\n"
            f"succeeded {s.succeeded} · failed {s.failed} · cancelled {s.cancelled}\n"
            f"users {s.users} · avg time {format_duration(s.avg_elapsed_s)}"
        )

    if guild is not None:
        embed.add_field(name="This server", value=block(guild), inline=False)
    embed.add_field(name="Everywhere", value=block(overall), inline=False)
    embed.add_field(name="Executors online", value=str(overall.executors_online))
    return embed
