"""Per-user commands: `/settings` (defaults for new jobs) and `/forget` (delete my data)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_bot.options import SETTING_MAXIMA, job_options
from bot.discord_bot.views import ForgetButton, static_view
from bot.store import UserSettings
from nst_engine.params import JOB_PARAMS

if TYPE_CHECKING:
    from bot.discord_bot.client import NSTBot

# The job parameters a user can save a default for (each a field of UserSettings).
SAVED_PARAMS = tuple(p for p in JOB_PARAMS if p.saved_description)


def describe_settings(saved: UserSettings, bot: NSTBot) -> str:
    """A user's saved defaults, and the bot's default for each one not saved."""

    def show(value: Any, default: Any) -> str:
        return f"**{value}**" if value is not None else f"{default} (default)"

    job_lines = [
        f"• {p.label}: {show(getattr(saved, p.name), bot.settings.job_default(p.name))}"
        for p in SAVED_PARAMS
    ]
    return "\n".join(
        [
            "Your defaults for new jobs:",
            *job_lines,
            f"• private: {show(saved.private, False)}",
            f"• DM when done: {show(saved.dm_on_done, False)}",
        ]
    )


class PrefsCog(commands.Cog):
    def __init__(self, bot: NSTBot) -> None:
        self.bot = bot

    @app_commands.command(name="settings", description="Your defaults for new style transfers")
    @app_commands.describe(
        private="Make your jobs private by default",
        dm_when_done="Also DM you a link when a result is ready",
        reset="Forget all your defaults",
    )
    @job_options(saved=True)  # size, preset, strength, ... (nst_engine.params)
    async def settings(
        self,
        interaction: discord.Interaction[NSTBot],
        private: bool | None = None,
        dm_when_done: bool | None = None,
        reset: bool = False,
        **options: Any,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        store = self.bot.store
        user_id = interaction.user.id
        asked = {p.name: options.get(p.option_name) for p in SAVED_PARAMS}
        asked |= {"private": private, "dm_on_done": dm_when_done}
        if reset:
            changes: dict[str, Any] = dict.fromkeys(asked)
        else:
            changes = {k: v for k, v in asked.items() if v is not None}
            # Discord enforces the synced maximum; a stale client's larger value is capped.
            for name, setting in SETTING_MAXIMA.items():
                if changes.get(name) is not None:
                    changes[name] = min(changes[name], getattr(self.bot.settings, setting))
        saved = (
            await store.set_user_settings(user_id, **changes)
            if changes
            else await store.get_user_settings(user_id)
        )
        self.bot.dispatch("private_default_changed", user_id, saved.private)
        await interaction.edit_original_response(content=describe_settings(saved, self.bot))

    @app_commands.command(name="forget", description="Delete all your jobs, images and settings")
    async def forget(self, interaction: discord.Interaction[NSTBot]) -> None:
        await interaction.response.send_message(
            "⚠️ This deletes **all** your jobs, their images and your settings. It can't be undone.",
            view=static_view(ForgetButton(interaction.user.id)),
            ephemeral=True,
        )
