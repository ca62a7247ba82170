"""The bot: a discord.py `commands.AutoShardedBot` wired to the job store.

Shards come from the settings: by default one process runs every shard (as many as Discord
recommends); with `SHARD_COUNT` and `SHARD_IDS` each of several processes runs its own, and its
watcher edits and delivers only the jobs of those shards' guilds (`shard_set`).

`setup_hook` registers the persistent buttons, the cogs (with option ranges from the settings)
and the tree-wide error handler, opens the HTTP session used for attachment downloads, starts
the store watcher and syncs the application commands (only when they changed, since Discord
rate-limits global syncs).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import aiohttp
import discord
import yarl
from discord.ext import commands

from bot.discord_bot.delete_button import DeleteButton
from bot.discord_bot.errors import install_error_handler
from bot.discord_bot.history import HistoryButton
from bot.discord_bot.installs import tree_contexts, tree_installs
from bot.discord_bot.options import apply_option_limits
from bot.discord_bot.redact import SECRETS
from bot.discord_bot.views import DYNAMIC_ITEMS
from bot.discord_bot.watcher import Watcher
from bot.settings import DEFAULT_API_BASE, Settings
from bot.store.ports import BotStore
from bot.store.shards import ShardSet

log = logging.getLogger(__name__)

_ORIGINAL_ENDPOINTS = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)


def apply_endpoints(settings: Settings) -> None:
    """Point discord.py at `settings.discord_api_base` / `discord_gateway_url` (process-wide)."""
    base = settings.discord_api_base.rstrip("/")
    discord.http.Route.BASE = base
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)
    elif base != DEFAULT_API_BASE:
        log.warning("custom DISCORD_API_BASE without DISCORD_GATEWAY_URL: using Discord's gateway")


def restore_endpoints() -> None:
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = _ORIGINAL_ENDPOINTS


def shard_set(settings: Settings) -> ShardSet | None:
    """The shards whose jobs this process handles; None when it runs every shard."""
    if settings.shard_count is None:
        return None  # Discord's recommended count, all in this process: every job is ours
    ids = frozenset(settings.shard_ids if settings.shard_ids is not None else ())
    if not ids or ids == frozenset(range(settings.shard_count)):
        return None  # every shard in this process: no filter needed
    return ShardSet(settings.shard_count, ids)


class NSTBot(commands.AutoShardedBot):
    """The Discord side of nst-bot. `store` must be open; the bot does not close it."""

    def __init__(
        self,
        settings: Settings,
        store: BotStore,
        *,
        sync_commands: bool = True,
        guild_ready_timeout: float | None = None,
        poll_s: float | None = None,
    ) -> None:
        intents = discord.Intents.default()
        # Unset: discord.py asks Discord for the recommended count and runs every shard here.
        shards: dict[str, Any] = {"shard_count": settings.shard_count}
        if settings.shard_ids is not None:
            shards["shard_ids"] = list(settings.shard_ids)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            guild_ready_timeout=guild_ready_timeout
            if guild_ready_timeout is not None
            else settings.guild_ready_timeout_s,
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False),
            # Every command for both installs, everywhere (`installs.py`; /config opts out).
            allowed_contexts=tree_contexts(),
            allowed_installs=tree_installs(),
            **shards,
        )
        self.settings = settings
        self.store: BotStore = store
        self.sync_commands = sync_commands
        self.http_session: aiohttp.ClientSession | None = None
        self.download_timeout_s = settings.download_timeout_s
        # Downloads, decoding and submission run a few at a time: a burst of interactions then
        # costs bounded memory and leaves the loop free to acknowledge new ones promptly.
        self.intake = asyncio.Semaphore(settings.intake_concurrency)
        self.watcher = Watcher(
            self,
            poll_s=poll_s if poll_s is not None else settings.poll_interval_s,
            edit_interval_s=settings.progress_edit_interval_s,
            queue_refresh_s=settings.queue_refresh_interval_s,
            sweep_s=settings.delivery_sweep_s,
            shards=shard_set(settings),
        )
        SECRETS.add(settings.token)

    async def setup_hook(self) -> None:
        from bot.discord_bot.cogs import COGS

        self.http_session = aiohttp.ClientSession()
        self.add_dynamic_items(*DYNAMIC_ITEMS, HistoryButton, DeleteButton)
        for cog in COGS:
            await self.add_cog(cog(self))
        # Option ranges (largest size, per-user limit) from this bot's settings, before the
        # payload is hashed and synced.
        apply_option_limits(self.tree, self.settings)
        install_error_handler(self.tree)
        if self.sync_commands:
            await self.sync_if_changed()
        self.watcher.start()

    async def close(self) -> None:
        await self.watcher.stop()
        if self.http_session is not None:
            await self.http_session.close()
        await super().close()

    async def on_ready(self) -> None:
        log.info("logged in as %s (%s)", self.user, self.user.id if self.user else "?")

    # ------------------------------------------------------------------ command sync
    def _commands_payload(self, guild: discord.abc.Snowflake | None) -> list[dict[str, Any]]:
        return [c.to_dict(self.tree) for c in self.tree.get_commands(guild=guild)]

    async def sync_commands_now(self) -> int:
        """Sync to the dev guild (instant) when configured, else globally; returns the count."""
        guild_id = self.settings.discord_dev_guild_id
        if guild_id:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()
        return len(synced)

    async def sync_if_changed(self) -> None:
        """Sync only when the command definitions differ from the last sync (hash on disk)."""
        payload = self._commands_payload(None)
        digest = hashlib.sha256(
            json.dumps(
                [payload, self.settings.discord_dev_guild_id, self.settings.discord_api_base],
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()
        stamp = Path(self.settings.data_dir) / "commands.sha256"
        try:
            if stamp.read_text().strip() == digest:
                log.info("application commands unchanged; not syncing")
                return
        except OSError:
            pass
        count = await self.sync_commands_now()
        log.info("synced %d application command(s)", count)
        try:
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.write_text(digest)
        except OSError as exc:
            log.warning("could not record the command sync (%s)", exc)
