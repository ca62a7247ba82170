"""A minimal discord.py bot for the fake's self-tests, and an example of a bot under test."""

from __future__ import annotations

import io

import discord
from discord import app_commands
from discord.ext import commands
from PIL import Image


def png(color: tuple[int, int, int] = (200, 30, 30), size: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, "PNG")
    return buf.getvalue()


class Echo(discord.ui.View):
    """A persistent view: its button keeps working across bot restarts."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Invert", custom_id="echo:invert")
    async def invert(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(content=f"inverted by {interaction.user.name}")


class Ask(discord.ui.Modal, title="Ask"):
    question = discord.ui.TextInput(label="Question", custom_id="ask:q")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"you asked: {self.question.value}")


class SampleBot(commands.Bot):
    """Records what it saw, so tests can wait on it."""

    def __init__(self) -> None:
        super().__init__(
            command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05
        )
        self.seen: list[str] = []
        self.errors: list[BaseException] = []
        self.limits: list[int] = []

    async def setup_hook(self) -> None:
        self.add_view(Echo())

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        pass  # discord.py sleeps 5 s before a non-initial IDENTIFY; tests need not


def make_bot() -> SampleBot:
    """/echo downloads an attachment and answers with it plus a button; /later only defers;
    /notify posts in the channel (or DMs when refused); /edits edits N times; /ask opens a
    modal; "Inspect" is a message context menu."""
    bot = SampleBot()

    @bot.tree.command(description="Echo an image back")
    @app_commands.describe(image="the image", caption="a caption")
    async def echo(
        interaction: discord.Interaction, image: discord.Attachment, caption: str = ""
    ) -> None:
        await interaction.response.defer(thinking=True)
        bot.limits.append(interaction.filesize_limit)
        data = await image.read()
        await interaction.edit_original_response(
            content=f"{caption} {len(data)} bytes from {interaction.user.name}",
            attachments=[discord.File(io.BytesIO(data), filename="echo.png")],
            view=Echo(),
        )

    @bot.tree.command(description="Defer, then nothing")
    async def later(interaction: discord.Interaction) -> None:
        try:
            await interaction.response.defer()
        finally:
            bot.seen.append(str(interaction.id))

    @bot.tree.command(description="Post in the channel, or by DM when refused")
    async def notify(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("on it", ephemeral=True)
        channel = bot.get_partial_messageable(interaction.channel_id or 0)
        try:
            msg = await channel.send(f"{interaction.user.mention} done")
            await msg.edit(content=f"{interaction.user.mention} done (edited)")
        except discord.Forbidden as err:
            bot.errors.append(err)
            await interaction.user.send("done (by DM)")
        followup = await interaction.followup.send("follow-up", wait=True)
        bot.seen.append(str(followup.id))

    @bot.tree.command(description="Defer publicly, then answer with ephemeral follow-ups")
    async def oops(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        for text in ("meant to be private", "really private"):
            msg = await interaction.followup.send(text, ephemeral=True, wait=True)
            bot.seen.append(str(msg.id))

    @bot.tree.command(description="Edit the response n times")
    async def edits(interaction: discord.Interaction, n: int) -> None:
        await interaction.response.defer()
        for i in range(n):
            await interaction.edit_original_response(content=f"edit {i + 1}/{n}")
        bot.seen.append(str(interaction.id))

    @bot.tree.command(description="Describe the options it got")
    async def opts(
        interaction: discord.Interaction,
        who: discord.User,
        n: int,
        x: float,
        flag: bool,
        text: str,
        where: discord.TextChannel | None = None,
    ) -> None:
        place = "dm" if interaction.guild_id is None else f"guild {interaction.guild_id}"
        await interaction.response.send_message(
            f"{type(who).__name__} {who.name}|{where and where.name}|{n}|{x}|{flag}|{text}|{place}"
            f"|admin={interaction.permissions.manage_guild}"
        )

    @bot.tree.command(description="Pick a preset")
    async def preset(interaction: discord.Interaction, name: str) -> None:
        await interaction.response.send_message(f"preset {name}")

    @preset.autocomplete("name")
    async def preset_names(interaction: discord.Interaction, current: str):
        names = ["fast", "standard", "high"]
        return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

    @bot.tree.command(description="Open a modal")
    async def ask(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Ask())

    @bot.tree.context_menu(name="Inspect")
    async def inspect(interaction: discord.Interaction, message: discord.Message) -> None:
        names = ",".join(a.filename for a in message.attachments)
        await interaction.response.send_message(f"{message.id}:{names}", ephemeral=True)

    @bot.tree.error
    async def on_error(interaction: discord.Interaction, error: Exception) -> None:
        bot.errors.append(error)
        raise error  # → discord.py logs it; run_bot turns that into a test failure

    return bot
