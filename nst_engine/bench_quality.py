"""The engine benchmark's time-to-quality section (`python -m nst_engine.bench --section quality`).

Each run stylizes one pair at 512 px with one preset and precision, times it against 1000
single-scale pastiche L-BFGS steps measured in the same run, and scores it
(`nst_engine.metrics`) against the targets of issue 14.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from nst_engine.bench import EXTRA_PAIRS, PAIRS, TARGETS, _run_child
from nst_engine.precision import AUTO, BF16, FP32

FAST_TARGETS = (0.6, 0.25)  # `fast`: (content, style) on both reference pairs
EXTRA_TARGETS = (0.6, 0.25)  # extra pairs: content, and style as a fraction of the photo's
# (preset, precision that ran) -> wall time ≤ 1/N of 1000 pastiche steps (issue 14).
TIME_TARGETS = {("standard", BF16): 40, ("standard", FP32): 14, ("fast", BF16): 60}


def _quality_row(
    args: argparse.Namespace, pair: tuple[str, str], preset: str, precision: str, budget: float
) -> str:
    """One stylize run at 512 px, timed and scored against its targets."""
    from PIL import Image

    from nst_engine.metrics import score
    from nst_engine.transfer import stylize

    c_name, s_name = pair
    content = Image.open(args.images / f"{c_name}.jpg").convert("RGB")
    style = Image.open(args.images / f"{s_name}.jpg").convert("RGB")
    t = time.perf_counter()
    result = stylize(
        content, [style], size=512, preset=preset, device=args.device, precision=precision
    )
    wall = time.perf_counter() - t
    if args.save:
        Path(args.save).mkdir(parents=True, exist_ok=True)
        result.image.save(Path(args.save) / f"{c_name}__{s_name}__{preset}_{precision}.png")
    m = score(result.image, content, style)
    fraction = TIME_TARGETS.get((preset, result.precision))
    in_time = fraction is None or wall <= budget / fraction
    if pair in PAIRS:
        tc, ts = TARGETS[c_name] if preset != "fast" else FAST_TARGETS
        ok = m.content <= tc and m.style <= ts and in_time
        scores = f"{m.content:.3f} ≤ {tc} | {m.style:.3f} ≤ {ts}"
    else:
        # No reference: the style distance is judged against the plain photo's.
        before = score(content, content, style).style
        tc, ts = EXTRA_TARGETS
        ok = m.content <= tc and m.style <= ts * before and in_time
        scores = f"{m.content:.3f} ≤ {tc} | {m.style:.3f} ≤ {ts * before:.3f} (photo {before:.3f})"
    target = f"1/{fraction}" if fraction else "–"
    return (
        f"| {c_name} × {s_name} | {preset} | {result.precision} | {wall:.0f} "
        f"| 1/{budget / wall:.1f} (≤ {target}) | {result.steps} | {result.evaluations} "
        f"| {scores} | {'yes' if ok else 'no'} |"
    )


def section_quality(args: argparse.Namespace, pastiche_512: float | None) -> str:
    """Time to quality of each preset × precision on the chosen pairs, in one table."""
    if pastiche_512 is None:
        pastiche_512 = _run_child("pastiche", 512, args)["step_s"]
    budget = pastiche_512 * 1000
    rows = [
        f"1000 single-scale pastiche L-BFGS steps at 512 px: {pastiche_512:.3f} s × 1000 = "
        f"**{budget:.0f} s**.",
        "",
        "| pair | preset | precision | wall s | ÷ 1000 steps | steps | evals "
        "| content (≤ target) | style (≤ target) | meets |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    pairs = {"reference": PAIRS, "extra": EXTRA_PAIRS, "all": PAIRS + EXTRA_PAIRS}[args.pairs]
    if args.pair:
        pairs = tuple(tuple(p.split(":", 1)) for p in args.pair)
    for preset in args.preset or ["standard"]:
        for precision in args.precision or [AUTO]:
            for pair in pairs:
                rows.append(_quality_row(args, pair, preset, precision, budget))
                print(rows[-1], file=sys.stderr, flush=True)
    return "\n".join(rows)
