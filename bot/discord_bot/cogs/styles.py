"""`/styles`: the style library as a gallery, and this server's own styles."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import styles as library
from bot.discord_bot.styles import SERVER_PREFIX, shown_title

if TYPE_CHECKING:
    from bot.discord_bot.client import NSTBot

EMBED_COLOUR = discord.Colour(0x3B6EA8)
MAX_LISTED = 25  # server styles named in the text (a server has at most that many)


def gallery_embeds() -> tuple[list[discord.Embed], list[discord.File]]:
    """One embed per library painting, each showing its attached bundled copy."""
    embeds, files = [], []
    for painting in library.library():
        embed = discord.Embed(
            title=painting.title,
            description=f"{painting.artist}, {painting.year}\n`style_name: {painting.name}`",
            colour=EMBED_COLOUR,
        )
        embed.set_image(url=f"attachment://{painting.file}")
        embeds.append(embed)
        files.append(discord.File(io.BytesIO(painting.image_bytes()), filename=painting.file))
    return embeds, files


GALLERY_TEXT = (
    "🖼️ **Style library** — paint your photo in one of these: "
    "`/stylize content:<photo> style_name:<name>` (the names appear as you type)."
)
DESCRIPTION_MAX = 4096  # Discord's cap on an embed's description


def server_styles_embed(server_styles: list[tuple[str, str]]) -> discord.Embed | None:
    """This server's styles, given as (name, title) pairs, one line each (an embed: 25 long
    titles would overflow a message's 2000 characters); None when it has none."""
    if not server_styles:
        return None
    lines = [
        f"**{shown_title(title)}** — `{SERVER_PREFIX}{name}`"
        for name, title in server_styles[:MAX_LISTED]
    ]
    return discord.Embed(
        title="This server's own styles",
        description="\n".join(lines)[:DESCRIPTION_MAX],
        colour=EMBED_COLOUR,
    )


class StylesCog(commands.Cog):
    def __init__(self, bot: NSTBot) -> None:
        self.bot = bot

    @app_commands.command(name="styles", description="Show the paintings you can use as a style")
    async def styles(self, interaction: discord.Interaction[NSTBot]) -> None:
        # Only the asker sees it: a gallery of seven paintings would crowd the channel.
        await interaction.response.defer(ephemeral=True, thinking=True)
        own = []
        if interaction.guild_id is not None:
            found = await self.bot.store.server_styles(interaction.guild_id)
            own = [(s.name, s.title) for s in found]
        embeds, files = gallery_embeds()
        extra = server_styles_embed(own)
        if extra is not None:
            embeds.append(extra)  # 7 + 1 embeds: Discord allows 10 per message
        await interaction.edit_original_response(
            content=GALLERY_TEXT, embeds=embeds, attachments=files
        )
