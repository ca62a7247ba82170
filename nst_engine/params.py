"""Every job parameter, defined once: name, type, range or choices, default, description.

Torch-free (it imports only the preset table), so the store, the Discord process, the web
face and the CLI all read the same facts from here: the store's validation
(`bot.store.types.JobParams.problems`), the slash-command options
(`bot.discord_bot.options.job_options`), the settings' defaults and choices
(`bot.settings`) and the `nst` CLI's arguments (`nst_engine.cli`) are built from `JOB_PARAMS`.
Adding a `Param` to `JOB_PARAMS` (and a field of the same name to the store's `JobParams` and
its column) is all it takes to offer a new option everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from nst_engine.presets import MIN_LONG_SIDE, PRESETS

V = TypeVar("V", int, float, bool, str, int | None)
_TYPE_WORDS = {int: "a whole number", float: "a number", bool: "true or false", str: "a word"}


@dataclass(frozen=True, slots=True)
class Param(Generic[V]):
    """One job parameter. `name` is the keyword of `nst_engine.stylize` and the field of the
    store's `JobParams`; `option` is its slash-command option and CLI flag when it differs."""

    name: str
    type: type[Any]  # int, float, bool or str (a nullable one: its non-None type)
    default: V
    description: str  # user-facing, for one job (slash option, CLI help)
    label: str  # how people read its name: "The size must be ...", "• keep colours: True"
    minimum: float | None = None
    maximum: float | None = None  # None: unbounded here (an operator setting may cap it)
    choices: tuple[str, ...] = ()
    option: str | None = None
    short_flag: str | None = None  # the CLI's one-letter flag, e.g. "-s"
    unit: str = ""  # " px": how a value reads in refusals
    slash: bool = False  # offered by /stylize
    # The /settings wording for a saved per-user default; None: no saved default (the
    # store's UserSettings has a field of this name for each one that has it).
    saved_description: str | None = None

    @property
    def option_name(self) -> str:
        """The slash option's and the CLI flag's name."""
        return self.option or self.name

    @property
    def nullable(self) -> bool:
        """None is a valid value (it means "pick one", e.g. a random seed)."""
        return self.default is None

    @property
    def span(self) -> tuple[float, float]:
        """(minimum, maximum) of a parameter bounded on both sides."""
        if self.minimum is None or self.maximum is None:
            raise ValueError(f"{self.name} is not bounded on both sides")
        return self.minimum, self.maximum

    def clamp(self, value: float) -> float:
        """`value` limited to this parameter's range (for derived values such as re-runs)."""
        if self.maximum is not None:
            value = min(self.maximum, value)
        if self.minimum is not None:
            value = max(self.minimum, value)
        return value

    def problem(self, value: object) -> str | None:
        """Why `value` is not valid for this parameter (a sentence for the user), or None."""
        if value is None:
            return None if self.nullable else f"The {self.label} option must be given."
        if not _is_type(value, self.type):
            return f"The {self.label} option must be {_TYPE_WORDS[self.type]} (got {value!r})."
        if self.choices and value not in self.choices:
            return f"Unknown {self.label} {value!r}; choose one of {', '.join(self.choices)}."
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return self._range_problem(value)

    def _range_problem(self, value: float) -> str | None:
        lo, hi = self.minimum, self.maximum
        # Written as "not inside" so that NaN is refused too.
        if lo is not None and hi is not None and not lo <= value <= hi:
            return f"The {self.label} must be between {lo:g} and {hi:g}{self.unit} (got {value})."
        if lo is not None and not value >= lo:
            return f"The {self.label} must be at least {lo:g}{self.unit} (got {value})."
        if hi is not None and not value <= hi:
            return f"The {self.label} must be at most {hi:g}{self.unit} (got {value})."
        if isinstance(value, float) and not math.isfinite(value):
            return f"The {self.label} must be a finite number (got {value})."
        return None


def _is_type(value: object, kind: type) -> bool:
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)  # True is an int to Python, not here
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


SIZE: Param[int] = Param(
    "size",
    int,
    512,
    "Long side of the result in pixels",
    "size",
    minimum=MIN_LONG_SIDE,  # the coarsest pyramid level
    short_flag="-s",
    unit=" px",
    slash=True,
    saved_description="Default long side of results in pixels",
)
PRESET: Param[str] = Param(
    "preset",
    str,
    "standard",
    "Quality/speed trade-off",
    "preset",
    choices=tuple(PRESETS),
    short_flag="-p",
    slash=True,
    saved_description="Default quality/speed trade-off",
)
STYLE_STRENGTH: Param[float] = Param(
    "style_strength",
    float,
    1.0,
    "Style strength multiplier (1 = default, 2 = stronger, 0.5 = weaker)",
    "strength",
    minimum=0.1,
    maximum=10.0,
    option="strength",
    slash=True,
    saved_description="Default style strength multiplier",
)
PRESERVE_COLORS: Param[bool] = Param(
    "preserve_colors",
    bool,
    False,
    "Keep the photo's original colours",
    "keep colours",
    slash=True,
    saved_description="Keep the photo's colours by default",
)
INIT: Param[str] = Param(
    "init",
    str,
    "content",
    "Starting image: the photo, noise, or a blend of both",
    "init",
    choices=("content", "noise", "blend"),
)
SEED: Param[int | None] = Param(
    "seed", int, None, "Random seed (reproducible on one device)", "seed"
)

# In the order the options are offered (slash commands, CLI).
JOB_PARAMS: tuple[Param[Any], ...] = (STYLE_STRENGTH, SIZE, PRESET, PRESERVE_COLORS, INIT, SEED)
MIN_SIZE = MIN_LONG_SIDE  # SIZE.minimum, as an int
PRESET_NAMES = PRESET.choices
INITS = INIT.choices
MAX_STYLES = 4  # style images in one job


def by_name(params: Iterable[Param[Any]] = JOB_PARAMS) -> dict[str, Param[Any]]:
    """The definitions keyed by `name`."""
    return {p.name: p for p in params}


def problems(values: Mapping[str, object], params: Iterable[Param[Any]] = JOB_PARAMS) -> list[str]:
    """Every refusal for `values` (keyed by `name`; a missing one counts as its default)."""
    found = (p.problem(values.get(p.name, p.default)) for p in params)
    return [message for message in found if message is not None]
