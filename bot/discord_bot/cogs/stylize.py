"""`/stylize` and the "Stylize" message context menu."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_bot import intake
from bot.discord_bot.errors import InputRejected, UserFacingError
from bot.discord_bot.installs import job_guild_id
from bot.discord_bot.options import job_options
from bot.discord_bot.styles import autocomplete_style_name, check_one_style, named_style
from bot.discord_bot.validation import ValidImage, download_origins, fetch_images

if TYPE_CHECKING:
    from bot.discord_bot.client import NSTBot

log = logging.getLogger(__name__)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")


class StylizeCog(commands.Cog):
    def __init__(self, bot: NSTBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name="Stylize", callback=self.stylize_message)
        # Users whose saved default is "private": read once at start, then kept current by
        # /settings and /forget, so choosing an ephemeral defer needs no database read.
        self._private_users: set[int] = set()

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)
        self._private_users = set(await self.bot.store.users_with_private_default())

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @commands.Cog.listener()
    async def on_private_default_changed(self, user_id: int, private: bool | None) -> None:
        """A user's saved "private" default changed (/settings, /forget: `bot.dispatch`)."""
        if private:
            self._private_users.add(user_id)
        else:
            self._private_users.discard(user_id)

    def _is_private(self, user_id: int, option: bool | None) -> bool:
        return option if option is not None else user_id in self._private_users

    @app_commands.command(name="stylize", description="Paint a photo in the style of another image")
    @app_commands.describe(
        content="The photo to repaint",
        style="The painting whose style to use (or pick a `style_name`)",
        style_name="A painting of the style library or of this server (instead of `style`)",
        style2="A second style image to blend in",
        style2_weight="Share of the second style in the blend (0.05–0.95, default 0.5)",
        private="Only you see the progress and the result",
    )
    @app_commands.autocomplete(style_name=autocomplete_style_name)
    @job_options(after="style_name")  # strength, size, preset, ... (nst_engine.params)
    async def stylize(
        self,
        interaction: discord.Interaction[NSTBot],
        content: discord.Attachment,
        style: discord.Attachment | None = None,
        style_name: str | None = None,
        style2: discord.Attachment | None = None,
        style2_weight: app_commands.Range[float, 0.05, 0.95] | None = None,
        private: bool | None = None,
        **options: Any,
    ) -> None:
        # Acknowledge first: everything after this may take longer than Discord's 3 s.
        await intake.defer(interaction, private=self._is_private(interaction.user.id, private))
        if style2_weight is not None and style2 is None:
            raise UserFacingError(
                "`style2_weight` only makes sense with a `style2` image.", code="bad_params"
            )
        check_one_style(style, style_name)
        attachments = [("content", content)]
        if style is not None:
            attachments.append(("style", style))
        weights = [1.0]
        if style2 is not None:
            attachments.append(("second style", style2))
            w = style2_weight if style2_weight is not None else 0.5
            weights = [1.0 - w, w]
        await self._submit(
            interaction,
            attachments,
            weights,
            style_name=style_name,
            private=private,
            **options,
        )

    async def stylize_message(
        self, interaction: discord.Interaction[NSTBot], message: discord.Message
    ) -> None:
        """Context menu: the message's first image is the content, the second the style.

        Spoilered images count only for the message's author; the images are recorded as
        the author's, so their /forget removes this job too.
        """
        await intake.defer(interaction, private=self._is_private(interaction.user.id, None))
        own = message.author.id == interaction.user.id
        pictures = [
            a for a in message.attachments if _looks_like_image(a) and (own or not a.is_spoiler())
        ]
        if len(pictures) < 2:
            hidden = "" if own else " not hidden as spoilers"
            raise InputRejected(
                f"That message needs two images{hidden}: the first is the photo, the second "
                f"the style (it has {len(pictures)}). Or use `/stylize`.",
                code="need_two_images",
            )
        await self._submit(
            interaction,
            [("content", pictures[0]), ("style", pictures[1])],
            [1.0],
            source_user_id=message.author.id,
        )

    async def _submit(
        self,
        interaction: discord.Interaction[NSTBot],
        attachments: list[tuple[str, discord.Attachment]],
        style_weights: list[float],
        source_user_id: int | None = None,
        style_name: str | None = None,
        **options: Any,
    ) -> None:
        """Queue a job: the content image first in `attachments`, then one per style weight.

        `options` (job options by name, and `private`) resolve against saved defaults, then
        every limit is checked (one database read) before any attachment is downloaded or
        decoded: a refused command costs no download, and does not wait for an intake slot.
        `source_user_id`: whose images these are, when not the invoker's. `style_name`: a
        named style (`bot.discord_bot.styles`) for the first style, in place of an attachment.
        """
        params = await intake.resolve_params(self.bot, interaction.user.id, options)
        await self.bot.store.admit(
            interaction.user.id, job_guild_id(interaction), interaction.channel_id, params.size
        )
        named = None
        if style_name is not None:  # an unknown name is refused before any download
            named = await named_style(self.bot, interaction.guild_id, style_name)
        async with self.bot.intake:
            images = await self._fetch_all(attachments)
            blobs = [replace(intake.blob(image), source_user_id=source_user_id) for image in images]
            if named is not None:
                blobs.insert(1, named)
            styles = list(zip(blobs[1:], style_weights, strict=True))
            await intake.enqueue(self.bot, interaction, blobs[0], styles, params)

    async def _fetch_all(
        self, attachments: list[tuple[str, discord.Attachment]]
    ) -> list[ValidImage]:
        s = self.bot.settings
        assert self.bot.http_session is not None
        return await fetch_images(
            self.bot.http_session,
            attachments,  # type: ignore[arg-type]
            max_bytes=s.max_upload_bytes,
            max_pixels=s.max_image_pixels,
            # The API base discord.py talks to (DISCORD_API_BASE, applied at start-up): the
            # payloads come from there, so its host may serve the CDN too. Cached per base.
            allowed_hosts=download_origins(discord.http.Route.BASE),
            timeout_s=self.bot.download_timeout_s,
        )


def _looks_like_image(att: discord.Attachment) -> bool:
    if att.content_type:
        return att.content_type.startswith("image/")
    return att.filename.lower().endswith(IMAGE_EXTENSIONS)
