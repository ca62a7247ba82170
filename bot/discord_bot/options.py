"""Slash-command option types shared by /stylize, /settings and /config, so their ranges agree.

Ranges that depend on the operator's settings (the largest size, the per-user queue limit) are
declared here with the setting's name and filled in by `apply_option_limits` before the
commands are synced: Discord then refuses an out-of-range value in the client, so nobody picks
a size that would only be refused after the upload.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands

from bot.store.types import MAX_STRENGTH, MIN_SIZE, MIN_STRENGTH, PRESETS

if TYPE_CHECKING:
    from bot.settings import Settings


class SettingRange(app_commands.Transformer):
    """An integer option from `minimum` up to the value of the setting named `setting`."""

    def __init__(self, minimum: int, setting: str) -> None:
        self.minimum = minimum
        self.setting = setting

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.integer

    @property
    def min_value(self) -> int:
        return self.minimum

    async def transform(self, interaction: discord.Interaction, value: Any) -> int:
        # Discord enforces the synced range; the store checks the limits again.
        return int(value)


SizeOption = app_commands.Transform[int, SettingRange(MIN_SIZE, "max_size")]
UserLimitOption = app_commands.Transform[int, SettingRange(1, "per_user_queue_limit")]
StrengthOption = app_commands.Range[float, MIN_STRENGTH, MAX_STRENGTH]
PresetOption = Literal[PRESETS]  # type: ignore[valid-type]  # Literal["fast", "standard", ...]


def apply_option_limits(tree: app_commands.CommandTree[Any], settings: Settings) -> int:
    """Set the maximum of every `SettingRange` option from `settings`; returns how many.

    Call after the cogs are added and before syncing. The parameters are replaced, not
    changed in place: discord.py shares them with the class-level command (other bots in
    the same process, e.g. in tests, may have other settings).
    """
    changed = 0
    for command in tree.walk_commands():
        if not isinstance(command, app_commands.Command):
            continue
        # discord.py keeps the parameters (and builds the sync payload from them) here.
        params = command._params
        for name, param in params.items():
            bound = param._annotation
            if isinstance(bound, SettingRange):
                limit = getattr(settings, bound.setting)
                params[name] = dataclasses.replace(param, max_value=limit)
                changed += 1
    return changed
