"""The re-run variations offered under a result: what each changes, and its button label."""

from __future__ import annotations

from dataclasses import replace

from bot.store import Job, JobParams
from nst_engine.params import STYLE_STRENGTH

VARIANTS = ("stronger", "weaker", "colours", "larger")
VARIANT_LABELS = {
    "stronger": ("Stronger style", "💪"),
    "weaker": ("Weaker style", "🪶"),
    "colours": ("Keep colours", "🎨"),
    "larger": ("Larger", "🔍"),
}


def variant_params(job: Job, variant: str, *, max_size: int) -> JobParams | None:
    """The parameters of a re-run: the parent's with one change (kept inside the parameters'
    ranges, and `size` at most `max_size`), or None for a variant name that does not exist."""
    p = job.params
    if variant == "stronger":
        p = replace(p, style_strength=STYLE_STRENGTH.clamp(round(p.style_strength * 2, 3)))
    elif variant == "weaker":
        p = replace(p, style_strength=STYLE_STRENGTH.clamp(round(p.style_strength / 2, 3)))
    elif variant == "colours":
        p = replace(p, preserve_colors=True)
    elif variant == "larger":
        p = replace(p, size=min(max_size, round(p.size * 1.5)))
    else:
        return None
    return replace(p, parent_job_id=job.id, seed=None)
