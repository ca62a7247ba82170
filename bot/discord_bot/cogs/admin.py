"""Server admin `/config` (Manage Server) and the owner-only `/sync`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_bot.errors import NotAllowed
from bot.discord_bot.installs import guild_install_only
from bot.discord_bot.options import SizeOption, UserLimitOption
from bot.discord_bot.styles import autocomplete_server_style, server_style_changes
from bot.store import GuildSettings
from bot.store.admission import GuildLimits
from bot.store.styles import TITLE_MAX

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


async def gallery_line(bot: NSTBot, guild_id: int) -> str:
    """The gallery's state for `/config` (with its address when the web face has one)."""
    if not await bot.store.gallery_enabled(guild_id):
        return "\n• web gallery: off (`/config gallery:True` shows public pastiches on the web)"
    base = (bot.settings.web_public_url or "").rstrip("/")
    where = f": {base}/g/{guild_id}" if base else " (at /g/<server id> on the bot's web face)"
    return f"\n• web gallery: on{where}"


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
        add_style="Add this image to the server's styles (for `/stylize style_name:`)",
        style_title="The added style's title (default: the file's name)",
        remove_style="Remove one of the server's styles",
        gallery="Show this server's public pastiches on the bot's web gallery page",
    )
    @app_commands.guild_only()
    @guild_install_only  # a server's settings: only where the bot was added to the server
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    @app_commands.autocomplete(remove_style=autocomplete_server_style)
    async def config(
        self,
        interaction: discord.Interaction[NSTBot],
        # AppCommandChannel: resolved from the payload, no channel cache needed.
        allow_channel: app_commands.AppCommandChannel | None = None,
        disallow_channel: app_commands.AppCommandChannel | None = None,
        all_channels: bool = False,
        per_user_limit: UserLimitOption | None = None,
        max_size: SizeOption | None = None,
        add_style: discord.Attachment | None = None,
        style_title: app_commands.Range[str, 1, TITLE_MAX] | None = None,
        remove_style: str | None = None,
        gallery: bool | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        # Styles first: a refused image stops the command before any setting is saved.
        styles_note = await server_style_changes(
            self.bot, interaction, add_style, style_title, remove_style
        )
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
        if gallery is not None:
            await store.set_gallery(interaction.guild_id, gallery)
            log.info("guild %d gallery set to %s", interaction.guild_id, gallery)
        # Saved as asked; the store caps the values at the operator's limits when applying.
        limits = await store.guild_limits(interaction.guild_id)
        gallery_note = await gallery_line(self.bot, interaction.guild_id)
        await interaction.edit_original_response(
            content=styles_note + describe_config(current, limits, self.bot) + gallery_note
        )

    @app_commands.command(name="sync", description="(bot owner) re-sync application commands")
    @app_commands.default_permissions(administrator=True)
    async def sync(self, interaction: discord.Interaction[NSTBot]) -> None:
        user_id = interaction.user.id
        if user_id not in self.bot.settings.owner_ids and not await self.bot.is_owner(
            interaction.user
        ):
            raise NotAllowed("🔒 Only the bot's owner can sync commands.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        count = await self.bot.sync_commands_now()
        await interaction.edit_original_response(content=f"Synced {count} command(s).")
