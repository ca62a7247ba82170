"""Text rendering of job progress: bars, durations, ETAs (pure functions, no Discord calls)."""

from __future__ import annotations

import math

FULL, EMPTY = "█", "░"


def render_bar(done: float, total: float, width: int = 20) -> str:
    """A fixed-width text bar with a percentage, e.g. `█████░░░░░ 50%`."""
    fraction = 0.0 if total <= 0 else min(max(done / total, 0.0), 1.0)
    filled = math.floor(fraction * width)
    return f"{FULL * filled}{EMPTY * (width - filled)} {math.floor(fraction * 100)}%"


def format_duration(seconds: float | None) -> str:
    """Human duration: `45s`, `3m 05s`, `1h 02m`; `?` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {(s % 3600) // 60:02d}m"


def progress_text(
    *,
    step: int,
    total_steps: int,
    scale: int | None = None,
    scales: int | None = None,
    eta_s: float | None = None,
    elapsed_s: float | None = None,
) -> str:
    """The multi-line progress body shown while a job runs."""
    lines = [f"`{render_bar(step, total_steps)}`"]
    detail = [f"step {step}/{total_steps}"]
    if scale and scales and scales > 1:
        detail.append(f"scale {scale}/{scales}")
    if elapsed_s is not None:
        detail.append(f"elapsed {format_duration(elapsed_s)}")
    detail.append(f"ETA {format_duration(eta_s)}")
    lines.append(" · ".join(detail))
    return "\n".join(lines)
