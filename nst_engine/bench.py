"""Engine benchmark: per-step time vs pastiche, time to quality, and the conv floor.

    python -m nst_engine.bench [--section per-step|quality|floor ...] [--sizes 128 256 384 512]

Each per-step measurement runs in its own subprocess so its peak memory (RSS, or CUDA peak
allocation) is that of one engine at one size. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TypedDict

from nst_engine.precision import AUTO, BF16, FP32, PRECISIONS, describe_cpu
from nst_engine.precision import resolve as resolve_precision

# The reference images, looked for (after --images and $NST_BENCH_IMAGES) relative to the
# repository: in the project's shared/ folder beside the checkout, or inside it.
REPO = Path(__file__).resolve().parents[1]
IMAGES = (REPO.parent / "shared" / "images", REPO / "shared" / "images")
PAIRS = (("tubingen", "starry_night"), ("golden_gate", "the_scream"))
# Pairs without a reference output (`--pairs extra`/`all`): do the defaults generalise?
EXTRA_PAIRS = (
    ("tubingen", "the_scream"),
    ("golden_gate", "starry_night"),
    ("tubingen", "shipwreck"),
    ("golden_gate", "woman-with-hat-matisse"),
)
TARGETS = {"tubingen": (1.13, 0.196), "golden_gate": (0.44, 0.300)}
SECTIONS = ("per-step", "quality", "floor")
CONV_SHAPE = (128, 96, 128)  # (channels, height, width) of the throughput probe: a conv3 map


class StepTimes(TypedDict):
    """One per-step measurement (of this engine or of pastiche) at one size."""

    w: int
    h: int
    step_s: float
    eval_s: float
    peak_mb: float


# size -> (this engine's fp32 measurement, pastiche's, this engine's bf16 one or None)
Measured = dict[int, tuple[StepTimes, StepTimes, StepTimes | None]]


def _images_dir(arg: str | None) -> Path:
    for cand in (arg, os.environ.get("NST_BENCH_IMAGES"), *IMAGES):
        if cand and (Path(cand) / "tubingen.jpg").is_file():
            return Path(cand)
    sys.exit("bench: reference images not found; pass --images DIR (needs tubingen.jpg, ...)")


def _peak_mb(device: str) -> float:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def child_engine(
    size: int, steps: int, device: str, images: Path, precision: str = "fp32"
) -> StepTimes:
    """Seconds per L-BFGS step / evaluation of this engine at one size (single scale).

    `precision` ("fp32" or "bf16") is that of the VGG passes, as `stylize` would run them.
    """
    import torch
    from PIL import Image

    from nst_engine import levels, transfer
    from nst_engine.convert import to_tensor
    from nst_engine.device import configure, prefers_channels_last, select_device
    from nst_engine.lbfgs import LBFGS
    from nst_engine.losses import Autocast, Objective
    from nst_engine.vgg import CONTENT_LAYERS, load_encoder

    dev = select_device(device)
    configure(dev)
    enc = load_encoder("caffe", dev)
    content = Image.open(images / "tubingen.jpg").convert("RGB")
    style = Image.open(images / "starry_night.jpg").convert("RGB")
    w, h = transfer.work_size(*content.size, size)
    c = to_tensor(content.resize((w, h), Image.Resampling.LANCZOS), dev)
    autocast: Autocast | None = None
    if precision == BF16:

        def bf16_autocast() -> torch.autocast:
            return torch.autocast(device_type=dev.type, dtype=torch.bfloat16)

        autocast = bf16_autocast

    target = transfer.style_target(enc, [(style, 1.0, "s")], (w, h), dev=dev, autocast=autocast)
    with torch.no_grad():
        feats = enc(c, CONTENT_LAYERS)
    obj = Objective(
        enc,
        feats,
        target,
        content_weight=1.0,
        style_weight=levels.STYLE_WEIGHT,
        tv_weight=levels.TV_WEIGHT,
        autocast=autocast,
    )
    cl = prefers_channels_last(dev)

    def func(flat: torch.Tensor) -> tuple[float, torch.Tensor]:
        leaf = flat.detach().view(1, 3, h, w).requires_grad_()
        parts = obj(leaf.contiguous(memory_format=torch.channels_last) if cl else leaf)
        parts.total.backward()  # type: ignore[no-untyped-call]
        assert leaf.grad is not None
        return float(parts.total.detach()), leaf.grad.reshape(-1)

    opt = LBFGS(func, c, history=levels.HISTORY, first_step=levels.FIRST_STEP)
    opt.step()  # warm-up (allocator, oneDNN/cuDNN kernel choice)
    _sync(device)
    evals0, times = opt.evals, []
    for _ in range(steps):
        t = time.perf_counter()
        opt.step()
        _sync(device)
        times.append(time.perf_counter() - t)
    evals = opt.evals - evals0
    return {
        "w": w,
        "h": h,
        "step_s": statistics.median(times),
        "eval_s": sum(times) / max(1, evals),
        "peak_mb": _peak_mb(device),
    }


def child_pastiche(size: int, steps: int, device: str, images: Path) -> StepTimes:
    """Seconds per step of pastiche's own L-BFGS loop (one evaluation per step)."""
    from pastiche.pastiche import PasticheArtist

    artist = PasticheArtist(
        str(images / "tubingen.jpg"),
        [str(images / "starry_night.jpg")],
        size=size,
        device="cuda" if device.startswith("cuda") else "cpu",
    )
    artist.draw()
    _sync(device)
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        artist.draw()
        _sync(device)
        times.append(time.perf_counter() - t)
    h, w = artist.content_size
    step = statistics.median(times)
    return {"w": w, "h": h, "step_s": step, "eval_s": step, "peak_mb": _peak_mb(device)}


def _run_child(kind: str, size: int, args: argparse.Namespace, precision: str = FP32) -> StepTimes:
    cmd = [
        sys.executable,
        "-m",
        "nst_engine.bench",
        "--child",
        kind,
        "--size",
        str(size),
        "--steps",
        str(args.steps),
        "--threads",
        str(args.threads),
        "--images",
        str(args.images),
        "--precision",
        precision,
    ]
    if args.device:
        cmd += ["--device", args.device]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench child {kind} {size} failed:\n{proc.stderr[-2000:]}")
    result: StepTimes = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def section_per_step(args: argparse.Namespace) -> tuple[str, Measured]:
    """This engine's s/step and s/eval in fp32 (and bf16 where native) beside pastiche's."""
    import torch

    bf16 = resolve_precision(AUTO, torch.device(args.device))[0] == BF16
    rows = [
        "| size (w×h) | engine s/step | engine s/eval | engine bf16 s/eval | engine peak MB "
        "| pastiche s/step | pastiche peak MB | pastiche ÷ engine (per eval, fp32) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    measured: Measured = {}
    for size in args.sizes:
        ours = _run_child("engine", size, args)
        ours_bf16 = _run_child("engine", size, args, BF16) if bf16 else None
        theirs = _run_child("pastiche", size, args)
        measured[size] = (ours, theirs, ours_bf16)
        bf16_eval = f"{ours_bf16['eval_s']:.3f}" if ours_bf16 else "–"
        rows.append(
            f"| {size} ({ours['w']}×{ours['h']}) | {ours['step_s']:.3f} | {ours['eval_s']:.3f} "
            f"| {bf16_eval} | {ours['peak_mb']:.0f} | {theirs['step_s']:.3f} "
            f"| {theirs['peak_mb']:.0f} | {theirs['step_s'] / ours['eval_s']:.2f}× |"
        )
        print(rows[-1], file=sys.stderr, flush=True)
    return "\n".join(rows), measured


def conv_flops(w: int, h: int, last: str = "relu5_1") -> float:
    """FLOPs of one evaluation: forward + input-gradient backward of every conv up to `last`."""
    from nst_engine.vgg import BLOCKS, LAYER_INDEX

    total, cin = 0.0, 3
    for b, n in enumerate(BLOCKS, start=1):
        chans = 64 * 2 ** min(b - 1, 3)
        for c in range(1, n + 1):
            if LAYER_INDEX[f"conv{b}_{c}"] > LAYER_INDEX[last]:
                return 2 * total
            total += 2 * cin * chans * 9 * w * h
            cin = chans
        w, h = w // 2, h // 2
    return 2 * total


def measure_conv_gflops(
    device: str, dtype: str = "fp32", shape: tuple[int, int, int] = CONV_SHAPE
) -> float:
    """Sustained GFLOP/s of a VGG-like 3×3 convolution (forward) in `dtype` (fp32 or bf16).

    `shape` is the (channels, height, width) of the input map; the best memory layout counts.
    """
    import torch
    import torch.nn.functional as F

    dev = device or "cpu"
    ch, hh, ww = shape
    flops = 2 * ch * ch * 9 * hh * ww
    kind = torch.bfloat16 if dtype == BF16 else torch.float32
    best = float("inf")
    for layout in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(1, ch, hh, ww, device=dev, dtype=kind).contiguous(memory_format=layout)
        wt = torch.randn(ch, ch, 3, 3, device=dev, dtype=kind).contiguous(memory_format=layout)
        with torch.no_grad():
            for _ in range(2):
                F.conv2d(x, wt, padding=1)
            _sync(dev)
            for _ in range(5):
                t = time.perf_counter()
                for _ in range(3):
                    F.conv2d(x, wt, padding=1)
                _sync(dev)
                best = min(best, (time.perf_counter() - t) / 3)
    return flops / best / 1e9


def section_floor(args: argparse.Namespace, measured: Measured) -> str:
    """Per-evaluation conv floor from measured 3×3 conv throughput, fp32 and bf16."""
    from PIL import Image

    from nst_engine.transfer import work_size

    device = args.device or "cpu"
    gflops = {FP32: measure_conv_gflops(device), BF16: measure_conv_gflops(device, BF16)}
    size0 = Image.open(args.images / "tubingen.jpg").size
    rows = [
        f"Measured 3×3 conv throughput: **{gflops[FP32]:.1f} GFLOP/s fp32**, "
        f"**{gflops[BF16]:.1f} GFLOP/s bf16**.",
        "",
        "| size (w×h) | GFLOP per eval | floor s/eval fp32 | floor s/eval bf16 "
        "| engine s/eval fp32 | engine ÷ floor fp32 | engine s/eval bf16 | engine ÷ floor bf16 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size in args.sizes:
        w, h = work_size(*size0, size)
        flops = conv_flops(w, h) / 1e9
        floor = {p: flops / g for p, g in gflops.items()}
        ours = measured.get(size)
        cells = []
        for p, times in ((FP32, ours[0] if ours else None), (BF16, ours[2] if ours else None)):
            if times is None:
                cells += ["–", "–"]
            else:
                cells += [f"{times['eval_s']:.3f}", f"{times['eval_s'] / floor[p]:.2f}×"]
        rows.append(
            f"| {size} ({w}×{h}) | {flops:.1f} | {floor[FP32]:.3f} | {floor[BF16]:.3f} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="nst_engine.bench", description=__doc__.split("\n")[0])
    p.add_argument("--section", action="append", choices=SECTIONS, help="default: all")
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 384, 512])
    p.add_argument("--steps", type=int, default=5, help="timed steps per per-step measurement")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--device", default=None, help="cpu, cuda (default: auto)")
    p.add_argument(
        "--preset", action="append", help="quality runs' preset (repeatable; default standard)"
    )
    p.add_argument(
        "--precision",
        action="append",
        choices=PRECISIONS,
        help="VGG passes of the quality runs (repeatable; default auto: bf16 where native)",
    )
    p.add_argument(
        "--pairs",
        choices=("reference", "extra", "all"),
        default="reference",
        help="quality pairs: the two with reference thresholds, four without, or all six",
    )
    p.add_argument(
        "--pair",
        action="append",
        metavar="CONTENT:STYLE",
        help="quality: only these pairs (image names, e.g. tubingen:starry_night)",
    )
    p.add_argument("--images", default=None, help="folder with the reference images")
    p.add_argument("--save", default=None, help="folder to save the quality outputs in")
    p.add_argument("--out", default=None, help="also write the markdown to this file")
    p.add_argument("--child", choices=("engine", "pastiche"), help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.images = _images_dir(args.images)

    import torch

    torch.set_num_threads(args.threads)
    if args.device is None:
        from nst_engine.device import select_device

        args.device = str(select_device(None))
    if args.child:
        if args.child == "engine":
            precision = args.precision[0] if args.precision else FP32
            times = child_engine(args.size, args.steps, args.device, args.images, precision)
        else:
            times = child_pastiche(args.size, args.steps, args.device, args.images)
        print(json.dumps(times))
        return 0

    sections = args.section or list(SECTIONS)
    load = os.getloadavg()
    parts = [
        f"## nst_engine benchmark — {describe_cpu()}, "
        f"device {args.device}, {args.threads} threads, torch {torch.__version__}, "
        f"load average at start {load[0]:.1f}"
    ]
    measured: Measured = {}
    if "per-step" in sections:
        table, measured = section_per_step(args)
        parts += ["", "### Per step (single scale, tubingen × starry_night)", "", table]
    if "quality" in sections:
        from nst_engine.bench_quality import section_quality

        p512 = measured[512][1]["step_s"] if 512 in measured else None
        parts += ["", "### Time to quality (512 px)", "", section_quality(args, p512)]
    if "floor" in sections:
        parts += [
            "",
            "### Conv floor (forward + input-gradient convs up to conv5_1)",
            "",
            section_floor(args, measured),
        ]
    parts.append(f"\nload average at end {os.getloadavg()[0]:.1f}")
    text = "\n".join(parts)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
