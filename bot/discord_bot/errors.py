"""Failures users can cause, each with a specific message, and the mapping of any error to text.

Every user-visible failure is a `UserFacingError` (message shown ephemerally, `code` recorded);
anything else becomes a generic apology with a reference id that appears in the logs.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bot.discord_bot.failures import is_transient
from bot.store import StoreError

log = logging.getLogger(__name__)


class UserFacingError(Exception):
    """An error whose `message` is safe and useful to show to the user who caused it."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InputRejected(UserFacingError):
    """An attachment could not be used (`code` is an `ImageError` code or a pre-check code)."""

    code = "bad_input"


class ChannelNotAllowed(UserFacingError):
    code = "channel_not_allowed"


class NotAllowed(UserFacingError):
    code = "not_allowed"


class JobNotFound(UserFacingError):
    code = "job_not_found"


def describe(error: BaseException) -> tuple[str, str]:
    """(code, user message) for any exception raised while handling an interaction."""
    if isinstance(error, app_commands.CommandInvokeError):
        return describe(error.original)
    if isinstance(error, app_commands.TransformerError):
        return "bad_option", f"I couldn't use the value `{error.value}` given for that option."
    if isinstance(error, UserFacingError | StoreError):
        return error.code, error.message
    if isinstance(error, app_commands.CommandOnCooldown):
        return "cooldown", (
            f"⏳ You're going a bit fast — try again in {error.retry_after:.0f} s."
            if error.retry_after >= 1
            else "⏳ You're going a bit fast — try again in a moment."
        )
    if isinstance(error, app_commands.MissingPermissions):
        perms = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
        return "missing_permissions", f"🔒 You need the {perms} permission to do that."
    if isinstance(error, app_commands.BotMissingPermissions):
        perms = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
        return "bot_missing_permissions", f"🔒 I need the {perms} permission here to do that."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "guild_only", "This command only works in a server."
    if isinstance(error, app_commands.CheckFailure):
        return "check_failed", "🔒 You can't use this command here."
    if isinstance(error, discord.Forbidden):
        return "forbidden", "🔒 Discord didn't let me post here; check my channel permissions."
    if isinstance(error, discord.HTTPException | discord.RateLimited) or is_transient(error):
        # Includes lost connections and timeouts talking to Discord: not a bug of ours.
        return "discord_error", "Discord had a problem handling that; please try again shortly."
    ref = secrets.token_hex(3)
    log.error("unexpected error (ref %s)", ref, exc_info=error)
    return "internal", f"Sorry — something went wrong on my side (ref `{ref}`). Please try again."


async def send_error(interaction: discord.Interaction, message: str) -> None:
    """Tell the user ephemerally, whether or not the interaction was already answered."""
    try:
        if interaction.response.is_done():
            if interaction.extras.get("public_defer"):
                # A public "thinking…" reply would show the error to everyone and its first
                # follow-up would inherit publicity: remove it, then answer privately.
                interaction.extras["public_defer"] = False
                try:
                    await interaction.delete_original_response()
                except discord.HTTPException:
                    await interaction.edit_original_response(content=message)
                    return
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
        # Expired token, deleted channel, lost connection: nothing more to do.
        log.info("could not deliver error message: %s", exc.__class__.__name__)


async def report_failure(interaction: discord.Interaction, error: BaseException, what: str) -> None:
    """Log a failed command or button (`what`), dispatch `interaction_failed` (listeners:
    `on_interaction_failed(interaction, error, code)`, e.g. metrics and tests), answer the user."""
    code, message = describe(error)
    log.info("%s failed for user %s: %s", what, interaction.user.id, code)
    interaction.client.dispatch("interaction_failed", interaction, error, code)
    await send_error(interaction, message)


def install_error_handler(tree: app_commands.CommandTree[Any]) -> None:
    """Route every app-command failure through `describe` to a specific ephemeral message."""

    async def on_error(
        interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        command = interaction.command.qualified_name if interaction.command else "?"
        await report_failure(interaction, error, f"command {command}")

    tree.on_error = on_error  # type: ignore[method-assign]
