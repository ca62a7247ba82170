"""`StylizeOptions`: the validated, frozen set of knobs of one `stylize` call.

Torch-free, so callers (CLI, executor) can build and validate options before loading the
engine. The fields users set in a job (size, preset, strength, ...) take their defaults,
ranges and choices from their one definition in `nst_engine.params`; the rest (device,
precision, optimiser, ...) are the engine's own knobs, checked here. One difference on
purpose: the engine renders down to `MIN_SIZE` px (tests, thumbnails), below the jobs' minimum.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from nst_engine import params
from nst_engine.precision import parse as parse_precision

OPTIMIZERS = ("lbfgs", "adam")
MIN_SIZE = 16
STYLE_SCALE_RANGE = (0.1, 4.0)  # style image long side ÷ output long side
# With previews on, the longest wait between two (the executor relays one per few seconds).
PREVIEW_INTERVAL_S = 2.0
# The job parameters checked by their definitions (size has the engine's own minimum).
_JOB_FIELDS = tuple(p for p in params.JOB_PARAMS if p.name != params.SIZE.name)


@dataclass(frozen=True, kw_only=True)
class StylizeOptions:
    """What to render and how; every field is checked when the object is built.

    `size` is the long side of the output; `preset` picks the coarse-to-fine pyramid and the
    per-scale budgets (`nst_engine.presets`); `style_strength` multiplies the default
    style/content balance; `precision` ("auto", "bf16", "fp32"; `nst_engine.precision`) sets
    the VGG passes' dtype and is stored normalised; `preview_every` > 0 attaches a preview
    image to every that many steps' progress report, to each level's last one, and to any
    report `preview_interval_s` (> 0) after the previous preview;
    `tv_weight` None keeps the engine's default.
    """

    size: int = params.SIZE.default
    preset: str = params.PRESET.default
    style_strength: float = params.STYLE_STRENGTH.default
    preserve_colors: bool = params.PRESERVE_COLORS.default
    init: str = params.INIT.default
    seed: int | None = params.SEED.default
    device: str | None = None
    weights: str = "caffe"
    precision: str | bool = "auto"
    preview_every: int = 0
    preview_interval_s: float = PREVIEW_INTERVAL_S
    optimizer: str = "lbfgs"
    style_scale: float = 1.0
    tv_weight: float | None = None

    def __post_init__(self) -> None:
        for param in _JOB_FIELDS:
            problem = param.problem(getattr(self, param.name))
            if problem:
                raise ValueError(f"{param.name}: {problem}")
        low, high = STYLE_SCALE_RANGE
        if not (isinstance(self.style_scale, int | float) and low <= self.style_scale <= high):
            raise ValueError(f"style_scale must be between {low:g} and {high:g}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        if not isinstance(self.size, int) or self.size < MIN_SIZE:
            raise ValueError(f"size must be at least {MIN_SIZE} px, got {self.size!r}")
        if self.preview_every < 0:
            raise ValueError("preview_every must be 0 (no previews) or a positive step count")
        if not self.preview_interval_s >= 0:
            raise ValueError("preview_interval_s must be 0 (steps only) or a positive time")
        if self.tv_weight is not None and not (
            math.isfinite(self.tv_weight) and self.tv_weight >= 0
        ):
            raise ValueError(f"tv_weight must be a non-negative number, got {self.tv_weight!r}")
        # Frozen: normalise the spelling ("true", True, "BF16" ...) in place, once.
        object.__setattr__(self, "precision", parse_precision(self.precision))

    def with_fields(self, **fields: Any) -> StylizeOptions:
        """A copy with `fields` changed (validated again); unknown names raise TypeError."""
        return dataclasses.replace(self, **fields) if fields else self
