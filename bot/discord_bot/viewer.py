"""Who is looking, for the store's visibility policy (`bot.store.visibility`)."""

from __future__ import annotations

import discord

from bot.discord_bot.errors import JobNotFound
from bot.store import Viewer, unseen_message


def viewer_of(interaction: discord.Interaction) -> Viewer:
    """The interaction's user, placed in the guild it comes from (None in a DM): membership
    is where someone acts from, since the bot keeps no member lists."""
    return Viewer(interaction.user.id, interaction.guild_id)


def job_not_found(job_id: int) -> JobNotFound:
    """The refusal for a job that is missing or that the viewer may not see (one answer for
    both, so ids can't be walked)."""
    return JobNotFound(unseen_message(job_id))
