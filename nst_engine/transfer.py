"""`stylize`: multi-scale Gatys style transfer (VGG19 features, L-BFGS on the pixels)."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Hashable, Sequence

import torch
import torch.nn.functional as F
from PIL import Image

from nst_engine import color
from nst_engine.convert import scaled_size, to_image, to_tensor
from nst_engine.device import available_memory_bytes, configure, is_oom, select_device
from nst_engine.errors import Cancelled, OutOfMemoryError
from nst_engine.levels import STYLE_WEIGHT, TV_WEIGHT, LevelRunner
from nst_engine.losses import Autocast, StyleTarget, gram, image_key, style_cache
from nst_engine.precision import BF16, FP32
from nst_engine.precision import parse as parse_precision
from nst_engine.precision import resolve as resolve_precision
from nst_engine.presets import MIN_LONG_SIDE, get_preset, pyramid
from nst_engine.results import Progress, StylizeResult
from nst_engine.vgg import STYLE_LAYERS, VGGEncoder, load_encoder

MIN_SHORT_SIDE = 32  # relu5_1 sees 1/16 of the input; keep its map at least 2 px wide
BYTES_PER_PIXEL = 3200  # measured-ish: VGG activations + grads + L-BFGS history, fp32
MULTI_RES = True
INITS = ("content", "noise", "blend")
OPTIMIZERS = ("lbfgs", "adam")

StyleSpec = Image.Image | tuple[Image.Image, float]


def _styles(styles: Sequence[StyleSpec]) -> list[tuple[Image.Image, float]]:
    if isinstance(styles, Image.Image):
        styles = [styles]
    out = []
    for spec in styles:
        img, weight = spec if isinstance(spec, tuple) else (spec, 1.0)
        if not (weight > 0 and math.isfinite(weight)):
            raise ValueError(f"style weights must be positive numbers, got {weight!r}")
        out.append((img.convert("RGB"), float(weight)))
    if not out:
        raise ValueError("at least one style image is needed")
    return out


def work_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """Working (w, h) for a pyramid level: long side as asked, short side ≥ MIN_SHORT_SIDE."""
    w, h = scaled_size(width, height, long_side)
    if min(w, h) < MIN_SHORT_SIDE:
        factor = MIN_SHORT_SIDE / min(w, h)
        w, h = max(MIN_SHORT_SIDE, round(w * factor)), max(MIN_SHORT_SIDE, round(h * factor))
    return w, h


def estimate_bytes(width: int, height: int) -> int:
    """Rough peak memory of optimising a width×height image."""
    return width * height * BYTES_PER_PIXEL + 200 * 2**20


def _style_target(
    encoder: VGGEncoder,
    styles: list[tuple[Image.Image, float, str]],
    size: tuple[int, int],
    style_scale: float,
    content_small: torch.Tensor | None,
    content_key: str,
    dev: torch.device,
    autocast: Autocast | None,
) -> StyleTarget:
    targets = []
    for img, weight, key in styles:
        # Long side = the output's long side × style_scale (neural-style's convention, and the
        # metrics' one), so brush strokes keep the same size relative to the frame.
        long_side = max(1, round(max(size) * style_scale))
        sw, sh = work_size(*img.size, long_side)
        cache_key: tuple[Hashable, ...] = (
            key,
            (sw, sh),
            STYLE_LAYERS,
            encoder.source,
            encoder.pooling,
            str(dev),
        )
        cache_key += (content_key, bool(autocast))

        def compute(img: Image.Image = img, sw: int = sw, sh: int = sh) -> dict[str, torch.Tensor]:
            s = to_tensor(img.resize((sw, sh), Image.Resampling.LANCZOS), dev)
            if content_small is not None:
                s = color.match_color(s, content_small)
            with torch.no_grad(), autocast() if autocast else contextlib.nullcontext():
                feats = encoder(s, STYLE_LAYERS)
            with torch.no_grad():
                return {k: gram(v) for k, v in feats.items()}

        targets.append(
            (StyleTarget.from_grams(style_cache.get_or_compute(cache_key, compute)), weight)
        )
    return targets[0][0] if len(targets) == 1 else StyleTarget.blend(targets)


def _init_image(content: torch.Tensor, init: str, generator: torch.Generator) -> torch.Tensor:
    if init == "content":
        return content.clone()
    noise = torch.rand(content.shape, generator=generator).to(content.device)
    if init == "noise":
        return noise
    return (0.5 * content + 0.5 * noise).clamp_(0, 1)  # blend


def stylize(
    content: Image.Image,
    styles: Sequence[StyleSpec],
    *,
    size: int = 512,
    preset: str = "standard",
    style_strength: float = 1.0,
    preserve_colors: bool = False,
    init: str = "content",
    seed: int | None = None,
    device: str | None = None,
    weights: str = "caffe",
    precision: str | bool = "auto",
    callback: Callable[[Progress], None] | None = None,
    preview_every: int = 0,
    should_stop: Callable[[], bool] | None = None,
    optimizer: str = "lbfgs",
    style_scale: float = 1.0,
    tv_weight: float | None = None,
) -> StylizeResult:
    """Render `content` in the style of `styles` (images or (image, weight) pairs).

    `size` is the long side of the output; `preset` picks the coarse-to-fine pyramid and the
    per-scale budgets; `style_strength` multiplies the default style/content balance
    (0.1–10). `precision` ("auto", "bf16", "fp32"; see `nst_engine.precision`) sets the VGG
    passes' dtype; the result records the one that ran. Raises `Cancelled` within one
    evaluation of `should_stop()` turning true, and `OutOfMemoryError` only when even the
    smallest size does not fit.
    """
    t0 = time.perf_counter()
    if not 0.1 <= style_strength <= 10:
        raise ValueError("style_strength must be between 0.1 and 10")
    if not 0.1 <= style_scale <= 4:
        raise ValueError("style_scale must be between 0.1 and 4")
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
    if size < 16:
        raise ValueError("size must be at least 16 px")
    precision = parse_precision(precision)
    plan_preset = get_preset(preset)
    content = content.convert("RGB")
    style_list = _styles(styles)
    dev = select_device(device)
    configure(dev)
    encoder = load_encoder(weights, dev)
    notes: list[str] = []
    ran, note = resolve_precision(precision, dev)
    if note:
        notes.append(note)
    autocast: Autocast | None = None
    if ran == BF16:

        def bf16_autocast() -> torch.autocast:
            return torch.autocast(device_type=dev.type, dtype=torch.bfloat16)

        autocast = bf16_autocast

    size = _fit_memory(content, size, dev, notes)
    generator = torch.Generator().manual_seed(
        seed if seed is not None else int(torch.randint(0, 2**62, (1,)))
    )
    keyed_styles = [(img, w, image_key(img)) for img, w in style_list]
    content_key = image_key(content) if preserve_colors else ""
    run = LevelRunner(
        encoder,
        plan_preset,
        dev,
        autocast,
        callback,
        preview_every,
        should_stop,
        t0,
        optimizer,
        tv_weight if tv_weight is not None else TV_WEIGHT,
        STYLE_WEIGHT * style_strength,
    )
    plan = pyramid(size, len(plan_preset.iterations))
    budgets = list(plan_preset.iterations[-len(plan) :])

    def level_inputs(long_side: int) -> tuple[torch.Tensor, StyleTarget]:
        """The content image and the style target at one pyramid level's size."""
        w, h = work_size(*content.size, long_side)
        c = to_tensor(content.resize((w, h), Image.Resampling.LANCZOS), dev)
        target = _style_target(
            encoder,
            keyed_styles,
            (w, h),
            style_scale,
            c if preserve_colors else None,
            content_key,
            dev,
            run.autocast,  # None once bf16 fell back to fp32
        )
        return c, target

    x: torch.Tensor | None = None
    i = 0
    while i < len(plan):
        try:
            c, target = level_inputs(plan[i])
            _, _, h, w = c.shape
            start = _init_image(c, init, generator) if x is None else _upsample(x, w, h)
            coarse = None
            if MULTI_RES and i > 0 and i == len(plan) - 1:
                # The finest level also keeps the previous level's statistics
                # (see LevelRunner.scale).
                coarse = level_inputs(plan[i - 1])
            x = run.scale(i, plan, budgets, c, target, start, coarse)
        except Cancelled:
            raise
        except Exception as exc:
            if not is_oom(exc):
                raise
            if dev.type == "cuda":
                torch.cuda.empty_cache()
            smaller = round(plan[i] / math.sqrt(2))
            if smaller < MIN_LONG_SIDE:
                raise OutOfMemoryError(
                    f"out of memory even at {plan[i]} px on {dev.type}"
                ) from None
            if i > 0 and smaller <= plan[i - 1]:
                notes.append(f"out of memory at {plan[i]} px; kept the {plan[i - 1]} px result")
                plan = plan[:i]
                break
            notes.append(f"out of memory at {plan[i]} px; retried at {smaller} px")
            plan = [*plan[:i], smaller]
            budgets = [*budgets[:i], budgets[-1]]
            continue
        i += 1
    assert x is not None
    if run.fell_back_to_fp32:
        ran = FP32
        notes.append("bf16 gave non-finite values; finished in fp32")
    if preserve_colors:
        _, _, h, w = x.shape
        c = to_tensor(content.resize((w, h), Image.Resampling.LANCZOS), dev)
        x = color.luminance_transfer(x.clamp(0, 1), c)
    out = to_image(x)
    want = scaled_size(*content.size, plan[-1])
    if out.size != want:  # extreme aspect ratios are computed larger, then shrunk
        out = out.resize(want, Image.Resampling.LANCZOS)
    return StylizeResult(
        image=out,
        steps=run.steps,
        elapsed_s=time.perf_counter() - t0,
        device=str(dev),
        precision=ran,
        notes=notes,
        evaluations=run.evals,
        sizes=run.sizes,
        scale_steps=run.scale_steps,
    )


def _upsample(x: torch.Tensor, w: int, h: int) -> torch.Tensor:
    return F.interpolate(x, size=(h, w), mode="bicubic", align_corners=False).clamp_(0, 1)


def _fit_memory(content: Image.Image, size: int, dev: torch.device, notes: list[str]) -> int:
    free = available_memory_bytes(dev)
    if free is None:
        return size
    original = size
    while size > MIN_LONG_SIDE and estimate_bytes(*work_size(*content.size, size)) > 0.8 * free:
        size = round(size / math.sqrt(2))
    if size != original:
        notes.append(f"{original} px needs more memory than is free; used {size} px")
    return size
