"""Per-user commands: `/settings` (defaults for new jobs) and `/forget` (delete my data)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_bot.options import PresetOption, SizeOption, StrengthOption
from bot.discord_bot.views import ForgetButton, static_view
from bot.store import UserSettings

if TYPE_CHECKING:
    from bot.discord_bot.client import NSTBot


def describe_settings(saved: UserSettings, bot: NSTBot) -> str:
    s = bot.settings

    def show(value: Any, default: Any) -> str:
        return f"**{value}**" if value is not None else f"{default} (default)"

    return "\n".join(
        [
            "Your defaults for new jobs:",
            f"• size: {show(saved.size, s.default_size)}",
            f"• preset: {show(saved.preset, s.default_preset)}",
            f"• strength: {show(saved.style_strength, 1.0)}",
            f"• keep colours: {show(saved.preserve_colors, False)}",
            f"• private: {show(saved.private, False)}",
            f"• DM when done: {show(saved.dm_on_done, False)}",
        ]
    )


class PrefsCog(commands.Cog):
    def __init__(self, bot: NSTBot) -> None:
        self.bot = bot

    @app_commands.command(name="settings", description="Your defaults for new style transfers")
    @app_commands.describe(
        size="Default long side of results in pixels",
        preset="Default quality/speed trade-off",
        strength="Default style strength multiplier",
        preserve_colors="Keep the photo's colours by default",
        private="Make your jobs private by default",
        dm_when_done="Also DM you a link when a result is ready",
        reset="Forget all your defaults",
    )
    async def settings(
        self,
        interaction: discord.Interaction,
        size: SizeOption | None = None,
        preset: PresetOption | None = None,
        strength: StrengthOption | None = None,
        preserve_colors: bool | None = None,
        private: bool | None = None,
        dm_when_done: bool | None = None,
        reset: bool = False,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        store = self.bot.store
        user_id = interaction.user.id
        if reset:
            saved = await store.set_user_settings(
                user_id,
                size=None,
                preset=None,
                style_strength=None,
                preserve_colors=None,
                private=None,
                dm_on_done=None,
            )
        else:
            changes = {
                k: v
                for k, v in {
                    "size": size,
                    "preset": preset,
                    "style_strength": strength,
                    "preserve_colors": preserve_colors,
                    "private": private,
                    "dm_on_done": dm_when_done,
                }.items()
                if v is not None
            }
            # Discord enforces the synced maximum; a stale client's larger value is capped.
            if size is not None and size > self.bot.settings.max_size:
                changes["size"] = self.bot.settings.max_size
            saved = (
                await store.set_user_settings(user_id, **changes)
                if changes
                else await store.get_user_settings(user_id)
            )
        self.bot.set_private_default(user_id, saved.private)
        await interaction.edit_original_response(content=describe_settings(saved, self.bot))

    @app_commands.command(name="forget", description="Delete all your jobs, images and settings")
    async def forget(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            "⚠️ This deletes **all** your jobs, their images and your settings. It can't be undone.",
            view=static_view(ForgetButton(interaction.user.id)),
            ephemeral=True,
        )
