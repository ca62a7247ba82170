"""Named styles for `/stylize style_name:` — the bundled library and each server's own — and
the `/config` changes to a server's styles.

A choice's value is a library painting's name (`starry-night`) or `server:` + a server
style's name (`server:water-lilies`), so a value always means one painting; typed text that
is neither is matched against names, titles and artists, and must match exactly one.
Server styles are looked up in the guild the interaction comes from only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot import styles as library
from bot.discord_bot.errors import InputRejected, UserFacingError
from bot.discord_bot.validation import download_origins, fetch_image
from bot.store import ImageBlob
from bot.store.styles import SERVER_STYLE_LIMIT, ServerStyle, style_name

if TYPE_CHECKING:
    from bot.discord_bot.client import NSTBot

SERVER_PREFIX = "server:"
MAX_CHOICES = 25  # Discord's cap on autocomplete choices
CHOICE_NAME_MAX = 100  # Discord's cap on a choice's name


def _choice(name: str, value: str) -> app_commands.Choice[str]:
    return app_commands.Choice(name=name[:CHOICE_NAME_MAX], value=value)


def shown_title(title: str) -> str:
    """An admin-given title as message text: no markdown, no mentions (it is shown in
    messages that mention nobody)."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(title))


def server_label(style: ServerStyle) -> str:
    """How a server style is named in lists: its title, marked as this server's."""
    return f"{style.title} (this server)"


def _server_matches(style: ServerStyle, typed: str) -> bool:
    needle = typed.strip().lower().removeprefix(SERVER_PREFIX)
    return not needle or needle in style.name or needle in style.title.lower()


async def _guild_styles(bot: NSTBot, guild_id: int | None) -> list[ServerStyle]:
    return await bot.store.server_styles(guild_id) if guild_id is not None else []


async def style_choices(
    bot: NSTBot, guild_id: int | None, typed: str
) -> list[app_commands.Choice[str]]:
    """Autocomplete for `style_name`: library paintings, then this server's styles, whose
    name, title or artist contains `typed`; at most 25."""
    choices = [_choice(s.label, s.name) for s in library.search(typed, MAX_CHOICES)]
    for style in await _guild_styles(bot, guild_id):
        if _server_matches(style, typed):
            choices.append(_choice(server_label(style), SERVER_PREFIX + style.name))
    return choices[:MAX_CHOICES]


async def autocomplete_style_name(
    interaction: discord.Interaction[NSTBot], current: str
) -> list[app_commands.Choice[str]]:
    """`@app_commands.autocomplete(style_name=...)` callback for /stylize."""
    return await style_choices(interaction.client, interaction.guild_id, current)


async def autocomplete_server_style(
    interaction: discord.Interaction[NSTBot], current: str
) -> list[app_commands.Choice[str]]:
    """`remove_style` autocomplete for /config: this server's styles only."""
    found = await _guild_styles(interaction.client, interaction.guild_id)
    return [_choice(server_label(s), s.name) for s in found if _server_matches(s, current)][
        :MAX_CHOICES
    ]


def check_one_style(style: discord.Attachment | None, name: str | None) -> None:
    """Exactly one of the `style` attachment and `style_name` must be given."""
    if style is not None and name is not None:
        raise UserFacingError(
            "Give either a `style` image or a `style_name`, not both.", code="bad_params"
        )
    if style is None and name is None:
        raise UserFacingError(
            "Which style? Attach a `style` image, or pick a `style_name` from the library "
            "(`/styles` shows it).",
            code="bad_params",
        )


async def named_style(bot: NSTBot, guild_id: int | None, value: str) -> ImageBlob:
    """The image of the style `value` names (a choice's value, or typed text matching one
    style); raises `InputRejected` (code `unknown_style`) naming what was asked for."""
    value = value.strip()
    servers = await _guild_styles(bot, guild_id)
    if value.lower().startswith(SERVER_PREFIX):
        wanted = value[len(SERVER_PREFIX) :].strip().lower()
        server = next((s for s in servers if s.name == wanted), None)
        return await _server_blob(bot, server, value)
    painting = library.find(value)
    if painting is not None:
        return painting.blob()
    slug = style_name(value)
    server = next((s for s in servers if s.name == slug), None)
    if server is not None:
        return await _server_blob(bot, server, value)
    paintings = library.search(value)
    near = [s for s in servers if _server_matches(s, value)]
    if len(paintings) + len(near) == 1:
        return paintings[0].blob() if paintings else await _server_blob(bot, near[0], value)
    raise _unknown(value, several=len(paintings) + len(near) > 1)


async def _server_blob(bot: NSTBot, style: ServerStyle | None, asked: str) -> ImageBlob:
    image = await bot.store.get_image(style.image_sha) if style is not None else None
    if style is None or image is None:
        raise _unknown(asked, several=False)
    # The admin who added it is where the image came from: their /forget removes this job.
    return ImageBlob(
        image.data, image.fmt, image.width, image.height, source_user_id=style.added_by
    )


def _unknown(asked: str, *, several: bool) -> InputRejected:
    shown = discord.utils.escape_markdown(asked[:60]) or "(empty)"
    if several:
        return InputRejected(
            f"`{shown}` matches several styles; pick one from the list as you type.",
            code="unknown_style",
        )
    return InputRejected(
        f"There's no style called `{shown}` here. Pick one from the list as you type, or see "
        "`/styles` for the library.",
        code="unknown_style",
    )


async def add_server_style(
    bot: NSTBot,
    interaction: discord.Interaction[NSTBot],
    image: discord.Attachment,
    title: str | None,
) -> str:
    """Validate `image` like any upload and add it to the interaction's guild; returns the
    line to show. The title defaults to the file's name without its extension."""
    assert interaction.guild_id is not None
    s = bot.settings
    assert bot.http_session is not None
    title = title if title is not None else image.filename.rsplit(".", 1)[0].replace("_", " ")
    async with bot.intake:
        valid = await fetch_image(
            bot.http_session,
            image,
            role="style",
            max_bytes=s.max_upload_bytes,
            max_pixels=s.max_image_pixels,
            allowed_hosts=download_origins(discord.http.Route.BASE),
            timeout_s=bot.download_timeout_s,
        )
    added = await bot.store.add_server_style(
        interaction.guild_id,
        title,
        ImageBlob(valid.data, valid.fmt, valid.width, valid.height),
        interaction.user.id,
        reserved={p.name for p in library.library()},
    )
    return (
        f"🎨 Added the server style **{shown_title(added.title)}**: "
        f"`/stylize style_name:{SERVER_PREFIX}{added.name}` (listed in this server only)."
    )


async def remove_server_style(bot: NSTBot, guild_id: int, name: str) -> str:
    """Remove the guild's style `name` (a choice's value or its typed title); the line to show."""
    wanted = name.strip().lower()
    wanted = wanted.removeprefix(SERVER_PREFIX)
    removed = await bot.store.remove_server_style(guild_id, wanted)
    if removed is None:
        removed = await bot.store.remove_server_style(guild_id, style_name(wanted))
    if removed is None:
        raise _unknown(name, several=False)
    return f"🗑️ Removed the server style **{shown_title(removed.title)}**."


async def server_style_changes(
    bot: NSTBot,
    interaction: discord.Interaction[NSTBot],
    add: discord.Attachment | None,
    title: str | None,
    remove: str | None,
) -> str:
    """Apply `/config add_style/style_title/remove_style`; returns the lines to show above
    the server's settings: what changed, and how many styles the server has."""
    assert interaction.guild_id is not None
    if title is not None and add is None:
        raise UserFacingError(
            "`style_title` names the image given in `add_style`; attach one there.",
            code="bad_params",
        )
    lines = []
    if remove is not None:
        lines.append(await remove_server_style(bot, interaction.guild_id, remove))
    if add is not None:
        lines.append(await add_server_style(bot, interaction, add, title))
    count = len(await bot.store.server_styles(interaction.guild_id))
    lines.append(
        f"Server styles: {count} of {SERVER_STYLE_LIMIT} (`/styles` lists them; "
        "`add_style` and `remove_style` change them)."
    )
    return "\n".join(lines) + "\n"
