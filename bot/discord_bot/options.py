"""Slash-command options shared by /stylize, /settings and /config, so their ranges agree.

The job parameters' options (name, description, type, choices, range) are built from their one
definition, `nst_engine.params`, by `job_options`. Ranges that depend on the operator's settings
(the largest size, the per-user queue limit) are declared here with the setting's name and
filled in by `apply_option_limits` before the commands are synced: Discord then refuses an
out-of-range value in the client, so nobody picks a size that would only be refused after the
upload.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import discord
from discord import app_commands

from nst_engine.params import JOB_PARAMS, MIN_SIZE, Param

if TYPE_CHECKING:
    from bot.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
# The operator setting that caps a job parameter's option (its maximum, set at sync time).
SETTING_MAXIMA = {"size": "max_size"}


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


SizeOption = app_commands.Transform[int, SettingRange(MIN_SIZE, SETTING_MAXIMA["size"])]
UserLimitOption = app_commands.Transform[int, SettingRange(1, "per_user_queue_limit")]


def option_annotation(param: Param[Any]) -> Any:
    """The discord.py annotation of a job parameter's option: its type, choices and range."""
    if param.choices:
        return cast(Any, Literal)[param.choices]  # Literal["fast", "standard", ...]: choices
    if (setting := SETTING_MAXIMA.get(param.name)) is not None:
        return app_commands.Transform[int, SettingRange(int(param.minimum or 0), setting)]
    if param.minimum is not None or param.maximum is not None:
        return app_commands.Range[param.type, param.minimum, param.maximum]
    return param.type


def job_options(
    *, after: str | None = None, saved: bool = False, params: Iterable[Param[Any]] | None = None
) -> Callable[[F], F]:
    """Give a command callback one optional option per slash job parameter (`Param.slash`).

    Put it right above the `async def` (below `app_commands.command`/`describe`): it extends
    the callback's signature, which discord.py reads to build the options, and describes
    them; the values reach the callback's `**options` keyed by option name (None when not
    given). The options go after the parameter named `after` (else first). `saved`: only
    those a user can save a default for, described as defaults (for /settings).
    """

    def decorate(func: F) -> F:
        chosen = [
            p
            for p in (JOB_PARAMS if params is None else params)
            if p.slash and (p.saved_description or not saved)
        ]
        signature = inspect.signature(func)
        own = list(signature.parameters.values())
        if not own or own[-1].kind is not inspect.Parameter.VAR_KEYWORD:
            raise TypeError(f"{func.__qualname__} needs **options to receive the job options")
        own.pop()
        at = [q.name for q in own].index(after) + 1 if after else 2  # after self, interaction
        added = [
            inspect.Parameter(
                p.option_name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=None,
                annotation=option_annotation(p) | None,
            )
            for p in chosen
        ]
        command: Any = func  # a plain function: it takes attributes
        # inspect.signature, which discord.py reads to build the options, honours this.
        command.__signature__ = signature.replace(parameters=[*own[:at], *added, *own[at:]])
        described = {
            p.option_name: (p.saved_description if saved else p.description) for p in chosen
        }
        key = "__discord_app_commands_param_description__"
        setattr(command, key, {**getattr(command, key, {}), **described})
        return func

    return decorate


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
