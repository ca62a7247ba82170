"""Read-only commands: `/history` (pages in history.py), `/job`, `/queue`, `/stats`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_bot.history import history_page
from bot.discord_bot.progress import RUN_UNTIMED, eta_text, queue_text
from bot.discord_bot.render import job_choice_label, job_details, result_embed, stats_embed
from bot.discord_bot.uploads import fit_upload
from bot.discord_bot.viewer import job_not_found, viewer_of
from bot.discord_bot.views import result_view
from bot.store import JobStatus, can_see

if TYPE_CHECKING:
    from bot.discord_bot.client import NSTBot

AUTOCOMPLETE_SCAN = 100  # recent jobs searched for `/job` suggestions


class InfoCog(commands.Cog):
    def __init__(self, bot: NSTBot) -> None:
        self.bot = bot

    @app_commands.command(name="history", description="Your recent style transfers (or someone's)")
    @app_commands.describe(user="Whose history to show (others: their public jobs from here)")
    async def history(
        self, interaction: discord.Interaction[NSTBot], user: discord.User | None = None
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        target = user or interaction.user
        page = await history_page(self.bot, target.id, viewer_of(interaction), 0)
        await interaction.edit_original_response(**page)

    @app_commands.command(name="job", description="Details of a job, and its result again")
    @app_commands.describe(job_id="The job number (shown as #123)")
    async def job(self, interaction: discord.Interaction[NSTBot], job_id: int) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        job = await self.bot.store.get_job(job_id)
        if job is None or not can_see(job, viewer_of(interaction)):
            raise job_not_found(job_id)
        info = await self.bot.store.queue_info(job.id) if job.status == JobStatus.QUEUED else None
        embeds = [job_details(job, info)]
        kwargs: dict = {}
        if job.status == JobStatus.SUCCEEDED and job.result_sha:
            stored = await self.bot.store.get_image(job.result_sha)
            if stored is not None:
                upload = await asyncio.to_thread(
                    fit_upload, stored.data, interaction.filesize_limit, f"pastiche-{job.id}"
                )
                embeds.append(result_embed(job, upload.filename))
                kwargs["attachments"] = [upload.file()]
                kwargs["view"] = result_view(job.id)
        await interaction.edit_original_response(embeds=embeds, **kwargs)

    @job.autocomplete("job_id")
    async def job_id_choices(
        self, interaction: discord.Interaction[NSTBot], current: str
    ) -> list[app_commands.Choice[int]]:
        """The user's recent jobs whose number starts with what they typed, newest first
        (only their own: other people's public jobs are one `/job` away but not offered)."""
        typed = current.strip().lstrip("#")
        viewer = viewer_of(interaction)
        recent = await self.bot.store.history(viewer.user_id, viewer, limit=AUTOCOMPLETE_SCAN)
        return [
            app_commands.Choice(name=job_choice_label(job)[:100], value=job.id)
            for job in recent
            if str(job.id).startswith(typed)
        ][:25]  # Discord shows at most 25 choices

    @app_commands.command(name="queue", description="Your place in the queue")
    async def queue(self, interaction: discord.Interaction[NSTBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        store = self.bot.store
        mine = await store.active_jobs(interaction.user.id)
        stats = await store.stats()
        lines = []
        for job in mine:
            if job.status == JobStatus.RUNNING:
                pr = job.progress
                done = f"{pr.step}/{pr.total} steps" if pr.total else "starting"
                lines.append(f"🎨 #{job.id} running — {done}, {eta_text(pr.eta_s, RUN_UNTIMED)}")
            elif (info := await store.queue_info(job.id)) is not None:
                place = queue_text(info.position, info.total_queued, info.eta_s)
                lines.append(f"🕒 #{job.id} {place}")
        if not lines:
            lines.append("You have no jobs waiting or running.")
        lines.append(
            f"\nQueue: {stats.queued} waiting · {stats.running} running · "
            f"{stats.executors_online} executor(s) online"
        )
        await interaction.edit_original_response(content="\n".join(lines))

    @app_commands.command(name="stats", description="Style-transfer statistics")
    async def stats(self, interaction: discord.Interaction[NSTBot]) -> None:
        await interaction.response.defer(thinking=True)
        overall = await self.bot.store.stats()
        here = await self.bot.store.stats(interaction.guild_id) if interaction.guild_id else None
        await interaction.edit_original_response(embed=stats_embed(here, overall))
