"""Server admin `/config` (Manage Server) and the owner-only `/sync`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_bot.errors import NotAllowed
from bot.discord_bot.options import SizeOption, UserLimitOption
from bot.store import GuildSettings
from bot.store.admission import GuildLimits

if TYPE_CHECKING:
    from bot.discord_bot.client import NSTBot

log = logging.getLogger(__name__)


def _limit(saved: int | None, effective: int | None, cap: int, unit: str = "") -> str:
    if saved is None:
        return f"{effective}{unit} (the bot's default)"
    if saved > cap:
        return f"{effective}{unit} (set to {saved}{unit}, but the bot allows at most {cap}{unit})"
    return f"{effective}{unit}"


def describe_config(cfg: GuildSettings, limits: GuildLimits, bot: NSTBot) -> str:
    """The server's rules as they apply: saved values above the operator's limits are capped."""
    s = bot.settings
    channels = ", ".join(f"<#{c}>" for c in cfg.allowed_channel_ids) or "every channel"
    per_user = _limit(cfg.per_user_queue_limit, limits.per_user_queue_limit, s.per_user_queue_limit)
    size = _limit(cfg.max_size, limits.max_size, s.max_size, " px")
    return (
        f"Server settings:\n• allowed channels: {channels}\n"
        f"• jobs per user: {per_user}\n• max size: {size}\n"
        f"A server can lower the bot's limits ({s.per_user_queue_limit} jobs per user, "
        f"{s.max_size} px), not raise them; this server may have {s.guild_queue_limit} jobs "
        "waiting or running at once."
    )


class AdminCog(commands.Cog):
    def __init__(self, bot: NSTBot) -> None:
        self.bot = bot

    @app_commands.command(name="config", description="Server settings for style transfer")
    @app_commands.describe(
        allow_channel="Allow style transfer in this channel (once any is set, only those)",
        disallow_channel="Remove a channel from the allowed list",
        all_channels="Allow every channel again",
        per_user_limit="Jobs one user may have waiting or running",
        max_size="Largest result size in pixels",
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def config(
        self,
        interaction: discord.Interaction,
        # AppCommandChannel: resolved from the payload, no channel cache needed.
        allow_channel: app_commands.AppCommandChannel | None = None,
        disallow_channel: app_commands.AppCommandChannel | None = None,
        all_channels: bool = False,
        per_user_limit: UserLimitOption | None = None,
        max_size: SizeOption | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        store = self.bot.store
        current = await store.get_guild_settings(interaction.guild_id)
        channels = list(current.allowed_channel_ids)
        if all_channels:
            channels = []
        if allow_channel is not None and allow_channel.id not in channels:
            channels.append(allow_channel.id)
        if disallow_channel is not None and disallow_channel.id in channels:
            channels.remove(disallow_channel.id)
        changes: dict = {}
        if channels != list(current.allowed_channel_ids):
            changes["allowed_channel_ids"] = channels
        if per_user_limit is not None:
            changes["per_user_queue_limit"] = per_user_limit
        if max_size is not None:
            changes["max_size"] = max_size
        if changes:
            current = await store.set_guild_settings(interaction.guild_id, **changes)
            log.info(
                "guild %d config changed by user %d: %s",
                interaction.guild_id,
                interaction.user.id,
                sorted(changes),
            )
        # Saved as asked; the store caps the values at the operator's limits when applying.
        limits = await store.guild_limits(interaction.guild_id)
        await interaction.edit_original_response(content=describe_config(current, limits, self.bot))

    @app_commands.command(name="sync", description="(bot owner) re-sync application commands")
    @app_commands.default_permissions(administrator=True)
    async def sync(self, interaction: discord.Interaction) -> None:
        user_id = interaction.user.id
        if user_id not in self.bot.settings.owner_ids and not await self.bot.is_owner(
            interaction.user
        ):
            raise NotAllowed("🔒 Only the bot's owner can sync commands.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        count = await self.bot.sync_commands_now()
        await interaction.edit_original_response(content=f"Synced {count} command(s).")
