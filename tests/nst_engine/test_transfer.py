"""`stylize` end to end at tiny sizes: convergence, sizes, seeds, cancellation, styles, colour."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from nst_engine import Cancelled, Progress, StylizeResult, stylize, transfer
from nst_engine.color import to_yiq
from nst_engine.convert import to_tensor
from nst_engine.losses import gram
from nst_engine.options import StylizeOptions
from nst_engine.style_cache import StyleTargetCache
from nst_engine.vgg import load_encoder


def test_loss_decreases_and_progress_is_honest(content_img, style_img):
    reports: list[Progress] = []
    result = stylize(content_img, [style_img], size=64, preset="fast", callback=reports.append)
    assert isinstance(result, StylizeResult)
    assert reports, "callback never called"
    assert reports[-1].loss < 0.5 * reports[0].loss
    assert [p.step for p in reports] == list(range(1, len(reports) + 1))
    assert result.steps == len(reports)
    assert result.evaluations >= result.steps
    assert reports[-1].total_steps == result.steps
    assert all(p.eta_s is not None and p.eta_s >= 0 for p in reports)
    last = reports[-1]
    assert last.loss == pytest.approx(last.content_loss + last.style_loss + last.tv_loss, rel=1e-4)
    assert result.device == "cpu"


def test_output_keeps_aspect_ratio_and_requested_size(content_img, style_img):
    portrait = content_img.transpose(0).rotate(90, expand=True)  # 192×256
    result = stylize(portrait, [style_img], size=80, preset="fast")
    assert result.image.size == (60, 80)
    result = stylize(content_img, [style_img], size=72, preset="fast")
    assert result.image.size == (72, 54)
    assert result.image.mode == "RGB"


@pytest.mark.parametrize("init", ["content", "noise"])
@pytest.mark.parametrize("preserve_colors", [False, True])
def test_the_first_guess_takes_the_styles_colours(content_img, style_img, init, preserve_colors):
    enc = load_encoder("caffe", "cpu")
    opts = StylizeOptions(init=init, preserve_colors=preserve_colors)
    styles = transfer._styles([style_img])
    inputs = transfer.LevelInputs(
        encoder=enc, dev=torch.device("cpu"), content=content_img, styles=styles, options=opts
    )
    c = inputs.content_at(64, 40)
    guess = inputs.first_guess(c, torch.Generator().manual_seed(0))
    assert guess.shape == c.shape
    mean = guess.mean(dim=(0, 2, 3))
    style_mean = to_tensor(style_img).mean(dim=(0, 2, 3))
    if preserve_colors:  # the style is recoloured to the content instead: the guess is plain
        plain = transfer._init_image(c, init, torch.Generator().manual_seed(0))
        torch.testing.assert_close(guess, plain)
    else:
        assert torch.allclose(mean, style_mean, atol=0.03), (mean, style_mean)
        assert not torch.allclose(c.mean(dim=(0, 2, 3)), style_mean, atol=0.03)


def test_seed_makes_noise_init_reproducible(content_img, style_img):
    kw = dict(size=64, preset="fast", init="noise")
    a = np.asarray(stylize(content_img, [style_img], seed=7, **kw).image)
    b = np.asarray(stylize(content_img, [style_img], seed=7, **kw).image)
    c = np.asarray(stylize(content_img, [style_img], seed=8, **kw).image)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_should_stop_cancels_within_one_evaluation(content_img, style_img):
    calls = 0

    def should_stop() -> bool:
        nonlocal calls
        calls += 1
        return calls >= 4

    with pytest.raises(Cancelled):
        stylize(content_img, [style_img], size=64, preset="fast", should_stop=should_stop)
    assert calls == 4  # checked before each evaluation; none ran after it said stop


def test_multi_style_blend(content_img, style_img, style_img2):
    kw = dict(size=64, preset="fast")
    one = np.asarray(stylize(content_img, [style_img], **kw).image, dtype=float)
    two = np.asarray(stylize(content_img, [style_img2], **kw).image, dtype=float)
    both = np.asarray(stylize(content_img, [(style_img, 1.0), (style_img2, 1.0)], **kw).image)
    both = both.astype(float)
    assert np.abs(both - one).mean() > 2 and np.abs(both - two).mean() > 2
    with pytest.raises(ValueError, match="positive"):
        stylize(content_img, [(style_img, 0.0)], **kw)


def test_preserve_colors_keeps_content_chroma(content_img, style_img):
    kw = dict(size=64, preset="fast")
    kept = stylize(content_img, [style_img], preserve_colors=True, **kw).image
    free = stylize(content_img, [style_img], **kw).image
    ref = to_yiq(to_tensor(content_img.resize(kept.size)))[:, 1:]
    kept_err = (to_yiq(to_tensor(kept))[:, 1:] - ref).abs().mean().item()
    free_err = (to_yiq(to_tensor(free))[:, 1:] - ref).abs().mean().item()
    assert kept_err < 0.02
    assert free_err > 2 * kept_err


def test_previews_and_style_cache(content_img, style_img):
    style_cache = StyleTargetCache()
    previews = []
    stylize(
        content_img,
        [style_img],
        size=64,
        preset="fast",
        preview_every=5,
        style_cache=style_cache,
        callback=lambda p: previews.append(p.preview) if p.preview is not None else None,
    )
    assert previews and all(p.size == (64, 48) for p in previews)
    misses = style_cache.misses
    stylize(content_img, [style_img], size=64, preset="fast", style_cache=style_cache)
    assert style_cache.misses == misses and style_cache.hits >= 1


def test_each_level_ends_with_a_preview(content_img, style_img):
    # A step count that is never reached: previews still come at every level's end (and
    # on the engine's time interval), so the first look does not wait for a step count.
    reports: list[Progress] = []
    result = stylize(
        content_img, [style_img], size=96, preset="fast", preview_every=10_000,
        preview_interval_s=0.0, callback=reports.append,
    )  # fmt: skip
    with_preview = [p for p in reports if p.preview is not None]
    assert len(result.sizes) == 2
    assert len(with_preview) == 2  # no time interval: exactly one per level
    for scale, (w, h) in enumerate(result.sizes, start=1):
        last = [p for p in reports if p.scale == scale][-1]
        assert last.preview is not None and last.preview.size == (w, h)


def test_adam_option_reduces_loss(content_img, style_img):
    reports: list[Progress] = []
    stylize(
        content_img, [style_img], size=64, preset="fast", optimizer="adam", callback=reports.append
    )
    assert reports[-1].loss < reports[0].loss


def test_invalid_arguments(content_img, style_img):
    with pytest.raises(ValueError, match="style_strength"):
        stylize(content_img, [style_img], size=64, style_strength=20)
    with pytest.raises(ValueError, match="preset"):
        stylize(content_img, [style_img], size=64, preset="ultra")
    with pytest.raises(ValueError, match="init"):
        stylize(content_img, [style_img], size=64, init="zeros")


def test_size_is_capped_to_free_memory(content_img):
    from nst_engine.transfer import _fit_memory, estimate_bytes, work_size

    notes: list[str] = []
    size = _fit_memory(content_img, 100_000, torch.device("cpu"), notes)
    assert 64 <= size < 100_000
    assert estimate_bytes(*work_size(*content_img.size, size)) < estimate_bytes(75_000, 100_000)
    assert notes and "100000 px needs more memory" in notes[0]
    assert _fit_memory(content_img, 64, torch.device("cpu"), []) == 64


def test_out_of_memory_falls_back_to_a_smaller_result(content_img, style_img):
    from nst_engine import OutOfMemoryError

    def oom_at_finest(p: Progress) -> None:
        if p.scale == p.scales:
            raise torch.OutOfMemoryError("simulated: CUDA out of memory")

    result = stylize(content_img, [style_img], size=96, preset="fast", callback=oom_at_finest)
    assert result.image.size == (72, 54)  # fast's coarse level: ¾ of 96 px
    assert result.notes == ["out of memory at 96 px; kept the 72 px result"]
    with pytest.raises(OutOfMemoryError, match="64 px"):
        stylize(content_img, [style_img], size=64, preset="fast", callback=oom_at_finest)


def test_bf16_vgg_passes_stay_finite(content_img, style_img):
    # The CUDA bf16 path, exercised with CPU autocast: Gram/loss/L-BFGS stay fp32.
    reports: list[Progress] = []
    result = stylize(
        content_img, [style_img], size=64, preset="fast", precision="bf16", callback=reports.append
    )
    assert all(np.isfinite(p.loss) for p in reports)
    assert reports[-1].loss < 0.5 * reports[0].loss
    assert np.asarray(result.image).std() > 5


@pytest.mark.parametrize(("style_scale", "long_side"), [(1.0, 128), (0.5, 64)])
def test_style_image_is_sized_by_its_long_side(style_img, style_scale, long_side):
    # A portrait style for a landscape output: its long side follows the output's long side
    # (× style_scale), so strokes keep their size relative to the frame.
    # 1:2, so sizing by area (the old rule) would give a different size.
    portrait = style_img.transpose(Image.Transpose.ROTATE_90)
    portrait = portrait.crop((0, 0, portrait.width // 2, portrait.width))
    enc = load_encoder("caffe", "cpu")
    cpu = torch.device("cpu")
    target = transfer.style_target(
        enc, [(portrait, 1.0, "p")], (128, 96), dev=cpu, style_scale=style_scale
    )
    sw, sh = transfer.work_size(*portrait.size, long_side)
    assert max(sw, sh) == long_side and sh > sw
    resized = to_tensor(portrait.resize((sw, sh), Image.Resampling.LANCZOS), cpu)
    with torch.no_grad():
        expected = gram(enc(resized, ["relu1_1"])["relu1_1"])
    torch.testing.assert_close(target.grams["relu1_1"], expected)
