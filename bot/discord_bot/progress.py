"""Text rendering of job progress: bars, durations, ETAs (pure functions, no Discord calls)."""

from __future__ import annotations

import math

FULL, EMPTY = "█", "░"
# Said instead of a bare "ETA ?" while there is no measured time to estimate from.
QUEUE_UNTIMED = "the ETA appears once a job has been timed"
RUN_UNTIMED = "ETA once the first steps are timed"


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


def known(seconds: float | None) -> bool:
    """Whether `seconds` is an estimate worth showing (not missing, finite, not negative)."""
    return seconds is not None and math.isfinite(seconds) and seconds >= 0


def eta_text(eta_s: float | None, unknown: str) -> str:
    """`ETA 3m 05s`, or `unknown` (what is known instead) when there is no estimate yet."""
    return f"ETA {format_duration(eta_s)}" if known(eta_s) else unknown


def queue_text(position: int, total: int, eta_s: float | None) -> str:
    """A waiting job's place, e.g. `Position **3** of 5 · ETA 4m 10s`, or, before any job
    has been timed, `Position **3** of 5 — the ETA appears once a job has been timed`."""
    where = f"Position **{position}** of {total}"
    if known(eta_s):
        return f"{where} · ETA {format_duration(eta_s)}"
    return f"{where} — {QUEUE_UNTIMED}"


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
    detail.append(eta_text(eta_s, RUN_UNTIMED))
    lines.append(" · ".join(detail))
    return "\n".join(lines)
