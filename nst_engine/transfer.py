"""`stylize`: multi-scale Gatys style transfer (VGG19 features, L-BFGS on the pixels)."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from nst_engine import color
from nst_engine.convert import resize_long_side, scaled_size, to_image, to_tensor
from nst_engine.device import available_memory_bytes, configure, is_oom, select_device
from nst_engine.encoder_cache import EncoderCache
from nst_engine.errors import Cancelled, OutOfMemoryError
from nst_engine.levels import STYLE_WEIGHT, TV_WEIGHT, LevelRunner
from nst_engine.losses import Autocast, StyleTarget, gram, image_key
from nst_engine.options import StylizeOptions
from nst_engine.precision import BF16, FP32
from nst_engine.precision import resolve as resolve_precision
from nst_engine.presets import MIN_LONG_SIDE, get_preset
from nst_engine.results import Progress, StylizeResult
from nst_engine.style_cache import StyleTargetCache
from nst_engine.vgg import STYLE_LAYERS, VGGEncoder, load_encoder

MIN_SHORT_SIDE = 32  # relu5_1 sees 1/16 of the input; keep its map at least 2 px wide
COLOUR_STATS_SIDE = 256  # colour statistics need no detail: styles are sampled this small
BYTES_PER_PIXEL = 3200  # measured-ish: VGG activations + grads + L-BFGS history, fp32

StyleSpec = Image.Image | tuple[Image.Image, float]
# (image, weight, content hash) of each style image.
KeyedStyle = tuple[Image.Image, float, str]


def _styles(styles: Sequence[StyleSpec]) -> list[KeyedStyle]:
    if isinstance(styles, Image.Image):
        styles = [styles]
    out = []
    for spec in styles:
        img, weight = spec if isinstance(spec, tuple) else (spec, 1.0)
        if not (weight > 0 and math.isfinite(weight)):
            raise ValueError(f"style weights must be positive numbers, got {weight!r}")
        img = img.convert("RGB")
        out.append((img, float(weight), image_key(img)))
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


def style_target(
    encoder: VGGEncoder,
    styles: Sequence[KeyedStyle],
    size: tuple[int, int],
    *,
    dev: torch.device,
    style_scale: float = 1.0,
    content_small: torch.Tensor | None = None,
    content_key: str = "",
    autocast: Autocast | None = None,
    cache: StyleTargetCache | None = None,
) -> StyleTarget:
    """The (blended) Gram target of `styles` for an output of `size` (w, h).

    With `content_small` (and its hash `content_key`) each style is first recoloured to the
    content's colours (preserve-colours mode). Targets come from `cache` when present there
    (None: computed afresh).
    """
    cache = StyleTargetCache() if cache is None else cache
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
            content_key,
            bool(autocast),
        )

        def compute(img: Image.Image = img, sw: int = sw, sh: int = sh) -> dict[str, torch.Tensor]:
            s = to_tensor(img.resize((sw, sh), Image.Resampling.LANCZOS), dev)
            if content_small is not None:
                s = color.match_color(s, content_small)
            with torch.no_grad(), autocast() if autocast else contextlib.nullcontext():
                feats = encoder(s, STYLE_LAYERS)
            with torch.no_grad():
                return {k: gram(v) for k, v in feats.items()}

        targets.append((StyleTarget.from_grams(cache.get_or_compute(cache_key, compute)), weight))
    return targets[0][0] if len(targets) == 1 else StyleTarget.blend(targets)


@dataclass(frozen=True, kw_only=True)
class LevelInputs:
    """The content and style images of one call, resized for any pyramid level."""

    encoder: VGGEncoder
    dev: torch.device
    content: Image.Image
    styles: Sequence[KeyedStyle]
    options: StylizeOptions
    content_key: str = ""  # the content's hash, when styles are recoloured to it
    style_cache: StyleTargetCache | None = None  # the caller's, kept across calls

    def content_at(self, w: int, h: int) -> torch.Tensor:
        return to_tensor(self.content.resize((w, h), Image.Resampling.LANCZOS), self.dev)

    def first_guess(self, c: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The coarsest level's starting image: the `init` image (from `c`, the content at
        that size) in the styles' colour statistics, unless the content's colours are kept.

        Starting in the style's palette leaves L-BFGS the strokes to form rather than the
        colours too (the shallow layers' style loss starts lower).
        """
        x = _init_image(c, self.options.init, generator)
        if self.options.preserve_colors:
            return x
        small = [
            (to_tensor(resize_long_side(img, min(max(img.size), COLOUR_STATS_SIDE)), self.dev), w)
            for img, w, _ in self.styles
        ]
        return color.match_stats(x, *color.mixture_stats(small))

    def at(self, long_side: int, autocast: Autocast | None) -> tuple[torch.Tensor, StyleTarget]:
        """The content image and the style target at one pyramid level's long side."""
        c = self.content_at(*work_size(*self.content.size, long_side))
        keep = self.options.preserve_colors
        target = style_target(
            self.encoder,
            self.styles,
            (c.shape[-1], c.shape[-2]),
            dev=self.dev,
            style_scale=self.options.style_scale,
            content_small=c if keep else None,
            content_key=self.content_key,
            autocast=autocast,
            cache=self.style_cache,
        )
        return c, target


def _init_image(content: torch.Tensor, init: str, generator: torch.Generator) -> torch.Tensor:
    if init == "content":
        return content.clone()
    noise = torch.rand(content.shape, generator=generator).to(content.device)
    if init == "noise":
        return noise
    return (0.5 * content + 0.5 * noise).clamp_(0, 1)  # blend


def _generator(seed: int | None) -> torch.Generator:
    """The noise generator of `init` noise/blend: seeded, or from a random seed."""
    return torch.Generator().manual_seed(
        seed if seed is not None else int(torch.randint(0, 2**62, (1,)))
    )


def _autocast(ran: str, dev: torch.device) -> Autocast | None:
    if ran != BF16:
        return None

    def bf16_autocast() -> torch.autocast:
        return torch.autocast(device_type=dev.type, dtype=torch.bfloat16)

    return bf16_autocast


def stylize(
    content: Image.Image,
    styles: Sequence[StyleSpec],
    options: StylizeOptions | None = None,
    *,
    callback: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    style_cache: StyleTargetCache | None = None,
    encoders: EncoderCache | None = None,
    **fields: Any,
) -> StylizeResult:
    """Render `content` in the style of `styles` (images or (image, weight) pairs).

    `options` (a `StylizeOptions`; its fields may also be given as keywords, which override
    it) says what to render: size, preset, strength, precision, ...; the result records the
    precision that ran. `callback` gets a `Progress` after every accepted step. Raises
    `ValueError` for invalid options, `Cancelled` within one evaluation of `should_stop()`
    turning true, and `OutOfMemoryError` only when even the smallest size does not fit.
    `style_cache`: style Gram targets kept across calls (an executor passes its own, so a
    style used again, e.g. one of the bot's library, costs no VGG pass); `encoders`: VGG
    encoders kept across calls (None: this call loads its own).
    """
    t0 = time.perf_counter()
    opts = (options or StylizeOptions()).with_fields(**fields)
    preset = get_preset(opts.preset)
    content = content.convert("RGB")
    keyed_styles = _styles(styles)
    dev = select_device(opts.device)
    configure(dev)
    encoder = load_encoder(opts.weights, dev, cache=encoders)
    notes: list[str] = []
    ran, note = resolve_precision(opts.precision, dev)
    notes += [note] if note else []
    size = _fit_memory(content, opts.size, dev, notes)
    run = LevelRunner(
        encoder=encoder,
        preset=preset,
        dev=dev,
        autocast=_autocast(ran, dev),
        optimizer=opts.optimizer,
        tv_weight=opts.tv_weight if opts.tv_weight is not None else TV_WEIGHT,
        style_weight=STYLE_WEIGHT * opts.style_strength,
        t0=t0,
        callback=callback,
        should_stop=should_stop,
        preview_every=opts.preview_every,
        preview_interval_s=opts.preview_interval_s,
    )
    inputs = LevelInputs(
        encoder=encoder,
        dev=dev,
        content=content,
        styles=keyed_styles,
        options=opts,
        content_key=image_key(content) if opts.preserve_colors else "",
        # Without the caller's cache, one for this call: levels of one size share targets.
        style_cache=StyleTargetCache() if style_cache is None else style_cache,
    )
    plan, budgets = preset.plan(size)
    x, plan = _run_levels(run, inputs, plan, budgets, _generator(opts.seed), notes)
    if run.fell_back_to_fp32:
        ran = FP32
        notes.append("bf16 gave non-finite values; finished in fp32")
    return StylizeResult(
        image=_finish(x, inputs, plan[-1]),
        steps=run.steps,
        elapsed_s=time.perf_counter() - t0,
        device=str(dev),
        precision=ran,
        notes=notes,
        evaluations=run.evals,
        sizes=run.sizes,
        scale_steps=run.scale_steps,
    )


def _run_levels(
    run: LevelRunner,
    inputs: LevelInputs,
    plan: list[int],
    budgets: list[int],
    generator: torch.Generator,
    notes: list[str],
) -> tuple[torch.Tensor, list[int]]:
    """Optimise every pyramid level coarse to fine; returns the image and the plan that ran.

    Out of memory at a level retries it smaller (see `_shrink_after_oom`).
    """
    x: torch.Tensor | None = None
    i = 0
    while i < len(plan):
        try:
            # `run.autocast` is None once bf16 fell back to fp32.
            c, target = inputs.at(plan[i], run.autocast)
            _, _, h, w = c.shape
            start = inputs.first_guess(c, generator) if x is None else _upsample(x, w, h)
            # The finest level also keeps a coarser level's statistics (LevelRunner.scale).
            coarse = None
            if i > 0 and i == len(plan) - 1:
                coarse = inputs.at(plan[i - 1], run.autocast)
            x = run.scale(i, plan, budgets, content=c, target=target, start=start, coarse=coarse)
        except Cancelled:
            raise
        except Exception as exc:
            if not is_oom(exc):
                raise
            if inputs.dev.type == "cuda":
                torch.cuda.empty_cache()
            plan, budgets = _shrink_after_oom(plan, budgets, i, inputs.dev, notes)
            continue
        i += 1
    assert x is not None
    return x, plan


def _shrink_after_oom(
    plan: list[int], budgets: list[int], i: int, dev: torch.device, notes: list[str]
) -> tuple[list[int], list[int]]:
    """The plan after level `i` ran out of memory: that level ≈√2 smaller, or dropped.

    Dropped (the previous level's result kept) when smaller would not exceed the previous
    level; raises `OutOfMemoryError` when even MIN_LONG_SIDE does not fit.
    """
    smaller = round(plan[i] / math.sqrt(2))
    if smaller < MIN_LONG_SIDE:
        raise OutOfMemoryError(f"out of memory even at {plan[i]} px on {dev.type}") from None
    if i > 0 and smaller <= plan[i - 1]:
        notes.append(f"out of memory at {plan[i]} px; kept the {plan[i - 1]} px result")
        return plan[:i], budgets[:i]
    notes.append(f"out of memory at {plan[i]} px; retried at {smaller} px")
    return [*plan[:i], smaller], [*budgets[:i], budgets[-1]]


def _finish(x: torch.Tensor, inputs: LevelInputs, long_side: int) -> Image.Image:
    """The output image: colours restored if asked, at the exact size of the last level."""
    if inputs.options.preserve_colors:
        _, _, h, w = x.shape
        x = color.luminance_transfer(x.clamp(0, 1), inputs.content_at(w, h))
    out = to_image(x)
    want = scaled_size(*inputs.content.size, long_side)
    if out.size != want:  # extreme aspect ratios are computed larger, then shrunk
        out = out.resize(want, Image.Resampling.LANCZOS)
    return out


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
