"""One pyramid level of `stylize`: the objective at that size and its optimisation loop."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from nst_engine.convert import to_image
from nst_engine.device import prefers_channels_last
from nst_engine.errors import Cancelled
from nst_engine.lbfgs import LBFGS, Func
from nst_engine.losses import Autocast, LossParts, Objective, StyleTarget
from nst_engine.presets import Preset
from nst_engine.results import Progress
from nst_engine.vgg import CONTENT_LAYERS, VGGEncoder

# Defaults of the objective (tuned with nst_engine.bench on the reference pairs); the
# content's weight is the preset's.
STYLE_WEIGHT = 8.6
TV_WEIGHT = 1.0
FIRST_STEP = 0.05  # largest pixel change of the first (gradient-descent) L-BFGS step
HISTORY = 32


class Adam:
    """Adam on the pixels with the same stepping interface as `LBFGS`."""

    def __init__(self, func: Func, x0: torch.Tensor, lr: float = 0.02) -> None:
        self.func, self.x = func, x0.detach().clone().reshape(-1)
        self.opt = torch.optim.Adam([self.x], lr=lr)
        self.evals = self.iterations = 0
        self.f, self.g = self._eval()

    def _eval(self) -> tuple[float, torch.Tensor]:
        self.evals += 1
        f, g = self.func(self.x)
        return float(f), g.reshape(-1)

    def step(self) -> bool:
        self.x.grad = self.g
        self.opt.step()
        self.iterations += 1
        self.f, self.g = self._eval()
        return True


class PyramidObjective:
    """The objective of one pyramid level, optionally mixed with a coarser level's.

    Deep Gram statistics matched at one pixel grid only degrade when the image is viewed at
    another size, so the finest level also scores the image downscaled (antialiased, so the
    gradient flows through it) to the previous level's size, keeping what that level
    established. The downscale is bicubic, close to the Lanczos filter images are viewed
    (and scored) through: bilinear's softer kernel hides the fine texture the shallow layers
    measure, so the finest level would be kept close to a view nobody sees (in tuning,
    bilinear cost 0.013 of style distance on Golden Gate × Woman with a Hat).
    """

    def __init__(
        self,
        fine: Objective,
        coarse: Objective | None = None,
        coarse_size: tuple[int, int] | None = None,
        coarse_weight: float = 0.5,
    ) -> None:
        """`coarse_size` is the (height, width) the image is downscaled to for `coarse`,
        whose share of the loss is `coarse_weight`."""
        self.fine, self.coarse, self.coarse_size = fine, coarse, coarse_size
        self.coarse_weight = coarse_weight

    @property
    def uses_autocast(self) -> bool:
        return self.fine.autocast is not None

    def disable_autocast(self) -> None:
        for objective in (self.fine, self.coarse):
            if objective is not None:
                objective.autocast = None

    def __call__(self, x: torch.Tensor) -> LossParts:
        parts = self.fine(x)
        if self.coarse is None:
            return parts
        small = F.interpolate(
            x, size=self.coarse_size, mode="bicubic", antialias=True, align_corners=False
        )
        p2 = self.coarse(small)
        a, b = 1 - self.coarse_weight, self.coarse_weight
        return LossParts(
            a * parts.total + b * p2.total,
            a * parts.content + b * p2.content,
            a * parts.style + b * p2.style,
            a * parts.tv + b * p2.tv,
        )


@dataclass
class _Level:
    """One pyramid level being optimised: where it sits in the plan, and its size."""

    i: int
    plan: Sequence[int]
    budgets: Sequence[int]
    h: int
    w: int
    # Loss terms per evaluated loss, kept on the device: read back only when reported.
    parts_at: dict[float, torch.Tensor] = field(default_factory=dict)

    @property
    def budget(self) -> int:
        return self.budgets[self.i]

    def eta(self, per_iter: float, remaining_here: int) -> float:
        """Seconds left: this level's remaining steps, then the finer levels' budgets."""
        return per_iter * remaining_here + sum(
            per_iter * b * (self.plan[j] / self.plan[self.i]) ** 2
            for j, b in enumerate(self.budgets[self.i + 1 :], start=self.i + 1)
        )


@dataclass(kw_only=True)
class LevelRunner:
    """State shared across the pyramid levels of one `stylize` call; runs one level at a time.

    `preview_every` > 0 attaches a preview to the progress report every that many steps, at
    the end of each level, and (`preview_interval_s` > 0) once that long since the last one.
    """

    encoder: VGGEncoder
    preset: Preset
    dev: torch.device
    autocast: Autocast | None
    optimizer: str
    tv_weight: float
    style_weight: float
    t0: float
    callback: Callable[[Progress], None] | None = None
    should_stop: Callable[[], bool] | None = None
    preview_every: int = 0
    preview_interval_s: float = 0.0
    steps: int = 0
    evals: int = 0
    fell_back_to_fp32: bool = False  # bf16 gave a non-finite loss; fp32 from then on
    sizes: list[tuple[int, int]] = field(default_factory=list)
    scale_steps: list[int] = field(default_factory=list)
    _last_preview_at: float = 0.0

    def __post_init__(self) -> None:
        self._last_preview_at = self.t0  # the first preview comes a level or an interval in

    def scale(
        self,
        i: int,
        plan: Sequence[int],
        budgets: Sequence[int],
        *,
        content: torch.Tensor,
        target: StyleTarget,
        start: torch.Tensor,
        coarse: tuple[torch.Tensor, StyleTarget] | None = None,
    ) -> torch.Tensor:
        """Optimise level `i` of `plan` from `start`; returns the accepted iterate.

        With `coarse` = (content, style target) of a smaller size, the objective also scores
        the image downscaled to that size (see `PyramidObjective`).
        """
        _, _, h, w = content.shape
        level = _Level(i, plan, budgets, h, w)
        fine = self._objective(content, target)
        if coarse is None:
            objective = PyramidObjective(fine)
        else:
            small_c, small_target = coarse
            small = self._objective(small_c, small_target)
            objective = PyramidObjective(
                fine, small, (small_c.shape[-2], small_c.shape[-1]), self.preset.coarse_weight
            )
        return self._optimise(level, self._func(objective, level), start)

    def _func(self, objective: PyramidObjective, level: _Level) -> Func:
        """The loss-and-gradient function L-BFGS calls, on flat pixel vectors."""
        channels_last = prefers_channels_last(self.dev)
        h, w, parts_at = level.h, level.w, level.parts_at

        def func(flat: torch.Tensor) -> tuple[float, torch.Tensor]:
            if self.should_stop is not None and self.should_stop():
                raise Cancelled("stopped on request")
            leaf = flat.detach().view(1, 3, h, w).requires_grad_()
            inp = leaf.contiguous(memory_format=torch.channels_last) if channels_last else leaf
            parts = objective(inp)
            parts.total.backward()  # type: ignore[no-untyped-call]
            grad = leaf.grad
            assert grad is not None  # leaf requires grad and the loss depends on it
            # One host read per evaluation (the line search needs the loss on the host):
            # the loss and whether the gradient is finite, together.
            loss, grad_ok = torch.stack(
                (parts.total.detach().float(), torch.isfinite(grad).all().float())
            ).tolist()
            if not math.isfinite(loss) and objective.uses_autocast:
                objective.disable_autocast()  # bf16 misbehaved: fp32 for good
                self.autocast, self.fell_back_to_fp32 = None, True
                return func(flat)
            if not math.isfinite(loss) or not grad_ok:
                # Report a non-finite value so the line search backs off from this point.
                return math.inf, torch.zeros_like(flat)
            parts_at[loss] = torch.stack((parts.content, parts.style, parts.tv))
            if len(parts_at) > 64:
                parts_at.pop(next(iter(parts_at)))
            return loss, grad.reshape(-1)

        return func

    def _objective(self, c: torch.Tensor, target: StyleTarget) -> Objective:
        with torch.no_grad():
            content_feats = self.encoder(c, CONTENT_LAYERS)
        return Objective(
            self.encoder,
            content_feats,
            target,
            content_weight=self.preset.content_weight,
            style_weight=self.style_weight,
            tv_weight=self.tv_weight,
            autocast=self.autocast,
        )

    def _optimise(self, level: _Level, func: Func, start: torch.Tensor) -> torch.Tensor:
        budget = level.budget
        opt: Adam | LBFGS
        if self.optimizer == "adam":
            opt = Adam(func, start)
        else:
            opt = LBFGS(func, start, history=HISTORY, first_step=FIRST_STEP)
        scale_t0 = time.perf_counter()
        losses = [opt.f]
        for k in range(1, budget + 1):
            if not opt.step():
                break
            self.steps += 1
            losses.append(opt.f)
            stalled = self.preset.stalled(losses, k) or opt.evals > 3 * budget
            remaining_here = 0 if stalled or k == budget else budget - k
            total = self.steps + remaining_here + sum(level.budgets[level.i + 1 :])
            eta = level.eta((time.perf_counter() - scale_t0) / k, remaining_here)
            self._report(level, opt, total, eta, last=remaining_here == 0)
            if stalled:
                break
        self.evals += opt.evals
        self.sizes.append((level.w, level.h))
        self.scale_steps.append(opt.iterations)
        return opt.x.view(1, 3, level.h, level.w).clamp(0, 1)

    def _wants_preview(self, last: bool) -> bool:
        """Every `preview_every` steps, at a level's end, or when the last one is too old."""
        if self.preview_every <= 0:
            return False
        now = time.perf_counter()
        interval = self.preview_interval_s
        due = interval > 0 and now - self._last_preview_at >= interval
        if last or due or self.steps % self.preview_every == 0:
            self._last_preview_at = now
            return True
        return False

    def _report(
        self, level: _Level, opt: Adam | LBFGS, total: int, eta: float, *, last: bool
    ) -> None:
        if self.callback is None:
            return
        terms = level.parts_at.get(opt.f)
        content, style, tv = terms.tolist() if terms is not None else (math.nan,) * 3
        preview = None
        if self._wants_preview(last):
            preview = to_image(opt.x.view(1, 3, level.h, level.w))
        self.callback(
            Progress(
                scale=level.i + 1,
                scales=len(level.plan),
                step=self.steps,
                total_steps=total,
                loss=opt.f,
                content_loss=content,
                style_loss=style,
                tv_loss=tv,
                elapsed_s=time.perf_counter() - self.t0,
                eta_s=eta,
                preview=preview,
            )
        )
