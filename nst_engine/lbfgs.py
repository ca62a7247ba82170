"""L-BFGS with a strong-Wolfe line search, stepped one accepted iteration at a time.

Unlike `torch.optim.LBFGS`, every `step()` ends on an accepted iterate (never a line-search
trial point), costs no extra evaluation, and reports exactly how many evaluations it used.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import torch

# f(x) -> (loss, gradient); x is a flat fp32 tensor.
Func = Callable[[torch.Tensor], tuple[float, torch.Tensor]]
# A line-search point: (t, f, directional derivative, gradient); a bracket's upper end may
# have no gradient kept.
_Point = tuple[float, float, float, torch.Tensor]
_Trial = tuple[float, float, float, torch.Tensor | None]


def _cubic_min(t1: float, f1: float, g1: float, t2: float, f2: float, g2: float) -> float:
    """Minimiser of the cubic through (t1, f1, g1) and (t2, f2, g2), clipped to [t1, t2]."""
    lo, hi = min(t1, t2), max(t1, t2)
    d1 = g1 + g2 - 3 * (f1 - f2) / (t1 - t2)
    sq = d1 * d1 - g1 * g2
    if sq < 0 or not math.isfinite(sq):
        return (lo + hi) / 2
    d2 = math.sqrt(sq)
    if t1 > t2:
        d2 = -d2
    t = t2 - (t2 - t1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2)) if (g2 - g1 + 2 * d2) else math.nan
    if not math.isfinite(t):
        return (lo + hi) / 2
    return min(max(t, lo), hi)


class LBFGS:
    """Minimise `func` from `x0` one accepted iteration per `step()` call."""

    def __init__(
        self,
        func: Func,
        x0: torch.Tensor,
        *,
        history: int = 32,
        c1: float = 1e-4,
        c2: float = 0.9,
        max_ls: int = 20,
        first_step: float = 1.0,
    ) -> None:
        self.func = func
        self.x = x0.detach().clone().float().reshape(-1)
        self.c1, self.c2, self.max_ls = c1, c2, max_ls
        self.s: deque[torch.Tensor] = deque(maxlen=history)
        self.y: deque[torch.Tensor] = deque(maxlen=history)
        self.rho: deque[float] = deque(maxlen=history)
        self.evals = 0
        self.iterations = 0
        self.converged = False
        self.first_step = first_step
        self.f, self.g = self._eval(self.x)

    def _eval(self, x: torch.Tensor) -> tuple[float, torch.Tensor]:
        self.evals += 1
        f, g = self.func(x)
        return float(f), g.reshape(-1).float()

    def _direction(self) -> torch.Tensor:
        q = -self.g
        if not self.s:
            # No curvature yet: a steepest-descent step whose largest pixel move is `first_step`.
            return q * (self.first_step / q.abs().max().clamp_min(1e-20))
        # The two-loop recursion keeps its scalars as 0-d tensors: reading each back to the
        # host would stall a GPU 2×history times per step. addcmul_ by a 0-d tensor rounds
        # exactly like add_(alpha=float) (one fused multiply-add), so the iterates are the same.
        alphas = []
        for s, y, rho in zip(reversed(self.s), reversed(self.y), reversed(self.rho), strict=True):
            a = rho * torch.dot(s, q)
            q.addcmul_(y, a, value=-1)
            alphas.append(a)
        y_last = self.y[-1]
        q.mul_(torch.dot(self.s[-1], y_last) / torch.dot(y_last, y_last))
        for s, y, rho, a in zip(self.s, self.y, self.rho, reversed(alphas), strict=True):
            b = rho * torch.dot(y, q)
            q.addcmul_(s, a - b)
        return q

    def _forget_curvature(self) -> None:
        self.s.clear()
        self.y.clear()
        self.rho.clear()

    def step(self) -> bool:
        """One accepted iteration; False (and x unchanged) once no progress is possible."""
        if self.converged:
            return False
        d = self._direction()
        gtd = float(torch.dot(self.g, d))
        if not gtd < 0 or not math.isfinite(gtd):
            if self.s:  # stale curvature: restart from steepest descent once
                self._forget_curvature()
                return self.step()
            self.converged = True
            return False
        found = self._line_search(d, gtd)
        if found is None:
            if self.s:
                self._forget_curvature()
                return self.step()
            self.converged = True
            return False
        t, f_new, g_new = found
        s = d.mul_(t)
        y = g_new - self.g
        ys, yy = torch.stack((torch.dot(y, s), torch.dot(y, y))).tolist()  # one host read
        if ys > 1e-10 * yy and math.isfinite(ys):
            self.s.append(s)
            self.y.append(y)
            self.rho.append(1.0 / ys)
        self.x.add_(s)
        self.f, self.g = f_new, g_new
        self.iterations += 1
        return True

    def _line_search(
        self, d: torch.Tensor, gtd0: float
    ) -> tuple[float, float, torch.Tensor] | None:
        """Strong-Wolfe search along d (Nocedal & Wright, alg. 3.5/3.6); None if it fails."""
        f0, c1, c2 = self.f, self.c1, self.c2

        def phi(t: float) -> tuple[float, float, torch.Tensor]:
            f, g = self._eval(self.x + t * d)
            return f, float(torch.dot(g, d)), g

        # (t, f, gtd, g) of the previous trial point; t=0 is the current iterate.
        prev: _Point = (0.0, f0, gtd0, self.g)
        t = 1.0
        for i in range(self.max_ls):
            f, gtd, g = phi(t)
            if not math.isfinite(f):
                hi: _Trial = (t, math.inf, math.nan, None)
                return self._zoom(d, prev, hi, f0, gtd0, self.max_ls - i - 1)
            if f > f0 + c1 * t * gtd0 or (i > 0 and f >= prev[1]):
                return self._zoom(d, prev, (t, f, gtd, g), f0, gtd0, self.max_ls - i - 1)
            if abs(gtd) <= -c2 * gtd0:
                return t, f, g
            if gtd >= 0:
                return self._zoom(d, (t, f, gtd, g), prev, f0, gtd0, self.max_ls - i - 1)
            # Sufficient decrease but still descending steeply: extrapolate.
            t_next = _cubic_min(prev[0], prev[1], prev[2], t, f, gtd) if i > 0 else 4 * t
            t_next = min(max(t_next, 1.5 * t), 10 * t)
            prev = (t, f, gtd, g)
            t = t_next
        return (prev[0], prev[1], prev[3]) if prev[0] > 0 else None

    def _zoom(
        self,
        d: torch.Tensor,
        lo: _Point,
        hi: _Trial,
        f0: float,
        gtd0: float,
        budget: int,
    ) -> tuple[float, float, torch.Tensor] | None:
        c1, c2 = self.c1, self.c2
        for _ in range(max(budget, 0)):
            t_lo, f_lo, g_lo_d, _ = lo
            t_hi, f_hi, g_hi_d, _ = hi
            width = abs(t_hi - t_lo)
            if math.isfinite(f_hi) and math.isfinite(g_hi_d):
                t = _cubic_min(t_lo, f_lo, g_lo_d, t_hi, f_hi, g_hi_d)
            else:
                t = (t_lo + t_hi) / 2
            # Keep the trial well inside the bracket so the bracket always shrinks.
            a, b = min(t_lo, t_hi), max(t_lo, t_hi)
            t = min(max(t, a + 0.1 * width), b - 0.1 * width)
            f, gtd = self._eval_dir(d, t)
            if not math.isfinite(f) or f > f0 + c1 * t * gtd0 or f >= f_lo:
                hi = (t, f, gtd, None)
                continue
            g = self._last_g
            if abs(gtd) <= -c2 * gtd0:
                return t, f, g
            if gtd * (t_hi - t_lo) >= 0:
                hi = lo
            lo = (t, f, gtd, g)
            if width < 1e-12:
                break
        t_lo, f_lo, _, g_lo = lo
        return (t_lo, f_lo, g_lo) if t_lo > 0 and f_lo < f0 else None

    def _eval_dir(self, d: torch.Tensor, t: float) -> tuple[float, float]:
        f, g = self._eval(self.x + t * d)
        self._last_g = g
        return f, float(torch.dot(g, d)) if math.isfinite(f) else math.nan
