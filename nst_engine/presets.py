"""Quality presets: the coarse-to-fine pyramid and the per-scale iteration budgets."""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_LONG_SIDE = 64  # coarsest pyramid level; smaller maps carry too little style


@dataclass(frozen=True)
class Preset:
    """`iterations[i]` is the L-BFGS budget of scale i, coarse to fine (finest last)."""

    name: str
    iterations: tuple[int, ...]
    # Early stop: leave a scale when the loss fell by less than `stall_tol` (relative)
    # over the last `stall_window` iterations, once `min_iterations` are done.
    stall_window: int = 10
    stall_tol: float = 0.005
    min_iterations: int = 10


PRESETS: dict[str, Preset] = {
    # Coarse levels are cheap (¼ and ½ the pixels of the next), so they get most iterations;
    # standard at 512 px costs ≈ 50+35+35 full-size evaluations at most.
    "fast": Preset("fast", (60, 30), stall_tol=0.02),
    "standard": Preset("standard", (200, 70, 35)),
    "high": Preset("high", (300, 200, 100, 60), stall_tol=0.002),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None


def pyramid(size: int, levels: int) -> list[int]:
    """Long sides coarse→fine, ≈√2 apart, ending at `size`, none below MIN_LONG_SIDE."""
    sizes = [round(size / math.sqrt(2) ** k) for k in reversed(range(levels))]
    kept = [s for s in sizes if s >= MIN_LONG_SIDE]
    return kept or [size]
