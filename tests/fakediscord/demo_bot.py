"""A tiny discord.py bot configured only through the environment, the way `nst-bot run` is:
DISCORD_TOKEN, DISCORD_API_BASE, DISCORD_GATEWAY_URL. The self-tests run it as a separate
process to prove the fake needs nothing in-process; it is also handy for manual runs:

    python -m tests.fakediscord --print-urls          # prints export lines
    env DISCORD_API_BASE=... DISCORD_GATEWAY_URL=... python -m tests.fakediscord.demo_bot
"""

from __future__ import annotations

import io
import os

import discord
import discord.gateway
import discord.http
import yarl
from discord.ext import commands


def build() -> commands.Bot:
    bot = commands.Bot(
        command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05
    )

    @bot.tree.command(description="Answer pong after a defer; echo an attachment if given")
    async def ping(interaction: discord.Interaction, image: discord.Attachment | None = None):
        await interaction.response.defer(thinking=True)
        files = []
        if image is not None:
            files = [discord.File(io.BytesIO(await image.read()), filename=image.filename)]
        await interaction.edit_original_response(content="pong", attachments=files)

    async def setup_hook() -> None:
        await bot.tree.sync()

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


def main() -> None:
    api = os.environ.get("DISCORD_API_BASE")
    gateway = os.environ.get("DISCORD_GATEWAY_URL")
    if api:
        discord.http.Route.BASE = api.rstrip("/")
    if gateway:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
    build().run(os.environ["DISCORD_TOKEN"], log_handler=None)


if __name__ == "__main__":
    main()
