"""Where the app may be used (guild and user installs) and what a user install allows.

Every command is offered to both integration types (a server adds the bot; a person adds the
app to their account) in every context (servers, the bot's DM, group DMs and DMs between
users), except `/config` (`guild_install_only`), which configures a server that has the bot.

Used through a user install where the bot is no member (`authorizing_integration_owners` holds
only the user key, in a server or a private channel), the bot cannot post in the channel: such
a job is stored with `InstallContext.USER` and no guild — it is its owner's own, like a DM job:
only they see it, server rules and quotas do not apply (that server never configured the bot),
and it is delivered through the interaction (edits of the original response), then by DM.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

import discord
from discord import app_commands

from bot.store import INTERACTION_TOKEN_TTL_S, InteractionRef, Job
from bot.store.types import InstallContext

T = TypeVar("T")


def tree_contexts() -> app_commands.AppCommandContext:
    """Every command's default contexts: servers, the bot's DM, private channels."""
    return app_commands.AppCommandContext(guild=True, dm_channel=True, private_channel=True)


def tree_installs() -> app_commands.AppInstallationType:
    """Every command's default integration types: guild install and user install."""
    return app_commands.AppInstallationType(guild=True, user=True)


def guild_install_only(command: T) -> T:
    """For commands that only make sense in a server that has the bot (`/config`): guild
    install, guild context (overrides the tree-wide defaults field by field)."""
    command = app_commands.allowed_installs(guilds=True, users=False)(command)
    return app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)(command)


def install_context(interaction: discord.Interaction[Any]) -> InstallContext | None:
    """`InstallContext.USER` when the app acts only through the user's install in a server or
    a private channel (the bot can't post there); None when it may post (guild install, or
    its own DM)."""
    ctx = interaction.context
    if ctx.dm_channel or not (ctx.guild or ctx.private_channel):
        return None  # the bot's own DM (or an unknown context): it can always post there
    # In a server, a guild install names that server; without it only a user install (the
    # invoker's, or for a button the original invoker's) authorised this interaction.
    if interaction.is_guild_integration():
        return None
    return InstallContext.USER


def job_guild_id(interaction: discord.Interaction[Any]) -> int | None:
    """The guild a job made through this interaction belongs to: None for user-install jobs
    (their owner's own, as in a DM: no server visibility, rules or quotas)."""
    if install_context(interaction) is InstallContext.USER:
        return None
    return interaction.guild_id


def interaction_ref(interaction: discord.Interaction[Any]) -> InteractionRef:
    """What a job keeps of its interaction: the token (15 minutes), how the app was acting,
    and the upload limit it announced (`attachment_size_limit`)."""
    return InteractionRef(
        application_id=interaction.application_id,
        token=interaction.token,
        expires_at=interaction.created_at + timedelta(seconds=INTERACTION_TOKEN_TTL_S),
        install_context=install_context(interaction),
        upload_limit=interaction.filesize_limit,
    )


def user_install_job(job: Job) -> bool:
    """Whether `job` was asked for through a user install where the bot can't post."""
    return job.interaction is not None and job.interaction.install_context is InstallContext.USER
