"""GPU benchmark in one command (`make bench-gpu`): a few minutes on a CUDA host.

    python -m nst_engine.bench_gpu [--sizes 512 1024 2048] [--steps 5] [--out FILE]

Prints markdown: milliseconds per evaluation (single scale, tubingen × starry_night) at each
size in fp32 and bf16 with the CUDA peak memory, the measured 3×3 conv throughput of both
precisions and the conv floor it implies, and the `standard` preset's wall time at 512 px
(cold, then warm) with its quality scores. Without CUDA it exits 2 with a one-line message;
`--device cpu` runs the same code on the CPU (small sizes) to check the script itself.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

from nst_engine.bench import (
    CONV_SHAPE,
    TARGETS,
    _images_dir,
    _sync,
    child_engine,
    conv_flops,
    measure_conv_gflops,
)
from nst_engine.precision import BF16, FP32

# Throughput probe on a GPU: a conv3-sized layer large enough to keep the device busy.
GPU_CONV_SHAPE = (256, 256, 256)


def _reset_peak(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_mib(device: str) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None


def _mib(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def header(device: str) -> str:
    """One line naming the device, its bf16 support and the software versions."""
    import torch

    from nst_engine.precision import native_bf16

    dev = torch.device(device)
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        what = (
            f"{props.name} (sm {props.major}.{props.minor}, {props.total_memory / 2**30:.0f} GiB)"
        )
    else:
        what = f"{platform.processor() or platform.machine()} CPU (a dry run of the script)"
    return (
        f"## nst_engine GPU benchmark — {what}, native bf16: "
        f"{'yes' if native_bf16(dev) else 'no'}, torch {torch.__version__}, "
        f"CUDA {torch.version.cuda or '–'}"
    )


def section_throughput(device: str, precisions: list[str]) -> tuple[str, dict[str, float]]:
    """Sustained conv GFLOP/s per precision (fp32 convs may use TF32, as the engine's do)."""
    shape = GPU_CONV_SHAPE if device.startswith("cuda") else CONV_SHAPE
    gflops = {p: measure_conv_gflops(device, p, shape) for p in precisions}
    c, h, w = shape
    lines = [f"3×3 conv, {c}→{c} channels on a {w}×{h} map, best layout:", ""]
    lines += [f"- {p}: **{g / 1000:.2f} TFLOP/s**" for p, g in gflops.items()]
    return "\n".join(lines), gflops


def section_per_eval(
    args: argparse.Namespace, precisions: list[str], gflops: dict[str, float]
) -> str:
    """ms per evaluation (and per accepted step) at each size and precision, with the floor."""
    from nst_engine.device import is_oom

    rows = [
        "| size (w×h) | precision | ms/eval | ms/step | peak MiB | floor ms/eval "
        "| engine ÷ floor |",
        "|---|---|---|---|---|---|---|",
    ]
    for size in args.sizes:
        for p in precisions:
            _reset_peak(args.device)
            try:
                r = child_engine(size, args.steps, args.device, args.images, p)
            except Exception as exc:
                if not is_oom(exc):
                    raise
                rows.append(f"| {size} | {p} | out of memory | – | – | – | – |")
                continue
            floor_ms = conv_flops(r["w"], r["h"]) / (gflops[p] * 1e9) * 1000
            eval_ms = r["eval_s"] * 1000
            rows.append(
                f"| {size} ({r['w']}×{r['h']}) | {p} | {eval_ms:.1f} | {r['step_s'] * 1000:.1f} "
                f"| {_mib(_peak_mib(args.device))} | {floor_ms:.1f} | {eval_ms / floor_ms:.2f}× |"
            )
            print(rows[-1], file=sys.stderr, flush=True)
    return "\n".join(rows)


def section_wall(args: argparse.Namespace, precisions: list[str]) -> str:
    """Wall time of the preset at `--wall-size` px: one cold run, then warm runs, per precision."""
    from PIL import Image

    from nst_engine.metrics import score
    from nst_engine.transfer import stylize

    content = Image.open(args.images / "tubingen.jpg").convert("RGB")
    style = Image.open(args.images / "starry_night.jpg").convert("RGB")
    tc, ts = TARGETS["tubingen"]
    rows = [
        f"| precision | cold s | warm s (median of {args.warm_runs}) | steps | evals | peak MiB "
        f"| content (≤ {tc}) | style (≤ {ts}) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in precisions:
        times, result = [], None
        for _ in range(1 + args.warm_runs):
            _reset_peak(args.device)
            t = time.perf_counter()
            result = stylize(
                content,
                [style],
                size=args.wall_size,
                preset=args.preset,
                device=args.device,
                precision=p,
                seed=0,
            )
            _sync(args.device)
            times.append(time.perf_counter() - t)
        assert result is not None
        m = score(result.image, content, style, device=args.device)
        rows.append(
            f"| {result.precision} | {times[0]:.2f} | {statistics.median(times[1:] or times):.2f} "
            f"| {result.steps} | {result.evaluations} | {_mib(_peak_mib(args.device))} "
            f"| {m.content:.3f} | {m.style:.3f} |"
        )
        print(rows[-1], file=sys.stderr, flush=True)
    return "\n".join(rows)


def _no_cuda_message() -> str | None:
    import torch

    if torch.cuda.is_available():
        return None
    build = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
    return (
        f"bench-gpu: no CUDA device here (torch {torch.__version__}, {build}); "
        "run `make bench-gpu` on a CUDA host"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0, or 2 when the asked-for device is not there."""
    p = argparse.ArgumentParser(prog="nst_engine.bench_gpu", description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda", help="cuda, cuda:1 (or cpu for a dry run)")
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    p.add_argument("--steps", type=int, default=5, help="timed L-BFGS steps per measurement")
    p.add_argument("--wall-size", type=int, default=512, help="size of the preset run")
    p.add_argument("--preset", default="standard")
    # Warm runs follow the cold one, which pays for cuDNN autotuning and the allocator.
    p.add_argument("--warm-runs", type=int, default=2, help="warm preset runs (2)")
    p.add_argument("--images", default=None, help="folder with the reference images")
    p.add_argument("--out", default=None, help="also write the markdown to this file")
    args = p.parse_args(argv)
    import torch

    if args.device.startswith("cuda"):
        message = _no_cuda_message()
        if message:
            print(message, file=sys.stderr)
            return 2
    args.images = _images_dir(args.images)
    from nst_engine.device import configure
    from nst_engine.precision import resolve

    configure(torch.device(args.device))
    started = time.perf_counter()
    default, _ = resolve("auto", torch.device(args.device))
    # bf16 per-evaluation figures only where it is native (and on a CPU dry run of the script).
    measured = [FP32, BF16] if default == BF16 or args.device == "cpu" else [FP32]
    wall_precisions = [default] if default == FP32 else [default, FP32]
    throughput, gflops = section_throughput(args.device, measured)
    parts = [
        header(args.device),
        "",
        "### Conv throughput",
        "",
        throughput,
        "",
        f"### Per evaluation (single scale, {args.steps} timed L-BFGS steps each)",
        "",
        section_per_eval(args, measured, gflops),
        "",
        f"### `{args.preset}` at {args.wall_size} px, tubingen × starry_night (seed 0)",
        "",
        section_wall(args, wall_precisions),
        "",
        f"total {time.perf_counter() - started:.0f} s",
    ]
    text = "\n".join(parts)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
