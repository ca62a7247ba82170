"""Quality presets: the coarse-to-fine levels and the per-level iteration budgets."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

MIN_LONG_SIDE = 64  # coarsest pyramid level; smaller maps carry too little style


@dataclass(frozen=True)
class Preset:
    """A coarse-to-fine schedule: level i has long side `scales[i]` × the output's and an
    L-BFGS budget of `iterations[i]` steps (finest last, at scale 1).

    A level costs (its scale)² of a full-size one per step, so the coarse levels, where the
    style's large-scale structure forms, get most iterations.
    """

    name: str
    iterations: tuple[int, ...]
    scales: tuple[float, ...]
    # The finest level's loss mixes its own size's objective with the previous level's
    # (`PyramidObjective`): this is the previous size's share.
    coarse_weight: float = 0.5
    # Content weight relative to the style's: a preset that stops before the style has
    # fully taken hold weights the content more, so the photo stays recognisable.
    content_weight: float = 1.0
    # Early stop: leave a scale when the loss fell by less than `stall_tol` (relative)
    # over the last `stall_window` iterations, once `min_iterations` are done.
    stall_window: int = 10
    stall_tol: float = 0.005
    min_iterations: int = 10

    def __post_init__(self) -> None:
        ascending = all(a < b for a, b in itertools.pairwise(self.scales))
        if len(self.scales) != len(self.iterations) or self.scales[-1] != 1.0 or not ascending:
            raise ValueError(f"preset {self.name!r}: one scale per level, rising to 1.0")

    def plan(self, size: int) -> tuple[list[int], list[int]]:
        """Long sides and iteration budgets of this preset's levels for an output of `size`.

        Levels that would fall below MIN_LONG_SIDE are dropped and their budgets go to the
        coarsest level kept, so a small output still gets the coarse levels' work (at a
        size where it is cheap) instead of only the finest level's few steps.
        """
        sizes = [round(size * s) for s in self.scales]
        kept = [s for s in sizes if s >= MIN_LONG_SIDE] or [size]
        budgets = list(self.iterations[-len(kept) :])
        budgets[0] += sum(self.iterations[: -len(kept)])
        return kept, budgets

    def stalled(self, losses: Sequence[float], k: int) -> bool:
        """Whether a level whose losses so far are `losses` (k steps done) should stop."""
        if k < max(self.min_iterations, self.stall_window):
            return False
        now = losses[-1]
        return losses[-self.stall_window - 1] - now < self.stall_tol * abs(now)


_ROOT2 = math.sqrt(2)
PRESETS: dict[str, Preset] = {
    # Tuned with `make bench` (nst_engine.bench) against the reference scores, which are
    # measured at 384 px: a coarse level at ¾ of the output forms the style at about the
    # scale it is judged at, and the finest level, scored mostly (coarse_weight) at that
    # size too, adds the full size's detail without undoing it (a few steps: more of them
    # trade the judged scale's statistics for the full size's). standard costs ≈ 60 × 0.56
    # + 4 × 1.56 ≈ 40 full-size evaluations, against ≈ 80 for the former √2 pyramid
    # (256, 362, 512 px; 120, 70, 10 steps), with the reference scores kept. Pyramids that
    # start lower (128–256 px) cost less per step but impose strokes sized for a smaller
    # frame, which the later levels have to undo (worse content and style in equal time).
    "fast": Preset("fast", (32, 4), (0.75, 1.0), coarse_weight=0.8, content_weight=1.6),
    "standard": Preset("standard", (60, 4), (0.75, 1.0), coarse_weight=0.8),
    "high": Preset(
        "high",
        (300, 200, 100, 60),
        (1 / _ROOT2**3, 1 / 2, 1 / _ROOT2, 1.0),
        stall_tol=0.002,
    ),
}


def get_preset(name: str) -> Preset:
    """The preset called `name`; ValueError naming the presets for anything else."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
