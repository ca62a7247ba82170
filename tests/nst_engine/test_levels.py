"""One pyramid level: the finest level's objective also scores the image at a coarser size."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from PIL import Image

from nst_engine import levels, stylize, transfer
from nst_engine.convert import to_tensor
from nst_engine.levels import LevelRunner, PyramidObjective
from nst_engine.presets import get_preset
from nst_engine.vgg import load_encoder

CPU = torch.device("cpu")


def _runner() -> LevelRunner:
    return LevelRunner(
        encoder=load_encoder("caffe", CPU),
        preset=get_preset("fast"),
        dev=CPU,
        autocast=None,
        optimizer="lbfgs",
        tv_weight=levels.TV_WEIGHT,
        style_weight=levels.STYLE_WEIGHT,
        t0=0.0,
    )


def _level(content, style, long_side):
    w, h = transfer.work_size(*content.size, long_side)
    c = to_tensor(content.resize((w, h), Image.Resampling.LANCZOS), CPU)
    target = transfer.style_target(load_encoder("caffe", CPU), [(style, 1.0, "s")], (w, h), dev=CPU)
    return c, target


def test_coarse_term_averages_with_the_downscaled_image(content_img, style_img):
    runner = _runner()
    c, target = _level(content_img, style_img, 96)
    small_c, small_target = _level(content_img, style_img, 68)
    fine = runner._objective(c, target)
    coarse = runner._objective(small_c, small_target)

    size = tuple(small_c.shape[-2:])
    both = PyramidObjective(fine, coarse, size, coarse_weight=0.8)
    x = (c + 0.1 * torch.randn_like(c)).clamp(0, 1)
    small = F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False)
    with torch.no_grad():
        expected = 0.2 * fine(x).total + 0.8 * coarse(small).total
        got = both(x).total
    torch.testing.assert_close(got, expected)

    # The coarse term reaches the pixels: the gradient differs from the fine term's alone.
    leaf = x.clone().requires_grad_()
    both(leaf).total.backward()
    leaf_fine = x.clone().requires_grad_()
    (0.2 * fine(leaf_fine).total).backward()
    assert not torch.allclose(leaf.grad, leaf_fine.grad, rtol=1e-3, atol=1e-6)


def test_only_the_finest_level_gets_the_coarse_term(content_img, style_img, monkeypatch):
    seen: list[tuple[int, int] | None] = []
    real_init = PyramidObjective.__init__

    def spy(self, fine, coarse=None, coarse_size=None, coarse_weight=0.5):
        seen.append((coarse_size, coarse_weight))
        real_init(self, fine, coarse, coarse_size, coarse_weight)

    monkeypatch.setattr(PyramidObjective, "__init__", spy)
    result = stylize(content_img, [style_img], size=96, preset="fast", seed=0)
    assert len(result.sizes) == 2
    coarse_w, coarse_h = result.sizes[0]
    weight = get_preset("fast").coarse_weight
    assert seen == [(None, 0.5), ((coarse_h, coarse_w), weight)]
