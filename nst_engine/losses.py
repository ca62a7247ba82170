"""Content, style (normalised Gram) and total-variation losses."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, cast

import torch
from PIL import Image

# Opens a mixed-precision region around the VGG passes (`torch.autocast(...)`).
Autocast = Callable[[], AbstractContextManager[object]]


class _Gram(torch.autograd.Function):
    """G = AᵀA / n for A = (pixels, channels), with a one-product backward.

    Autograd's own backward of A.t() @ A runs two matrix products; since the gradient of G
    only enters through its symmetric part, dA = A (dG + dGᵀ) / n needs one.
    """

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, n: int) -> torch.Tensor:
        ctx.save_for_backward(a)
        ctx.n = n
        return (a.t() @ a).div_(n)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (a,) = ctx.saved_tensors
        sym = (grad + grad.t()).div_(ctx.n)
        if a.stride(0) == 1:
            # `a` is a transposed view of channel-major storage: answer in the same layout.
            return (sym @ a.t()).t(), None
        return a @ sym, None


def gram(feat: torch.Tensor) -> torch.Tensor:
    """Gram matrix F Fᵀ / (H·W) of a (1, C, H, W) map, always computed in fp32.

    Reads the map in place in either memory format (no transposed copy of channels-last maps).
    """
    _, c, h, w = feat.shape
    feat = feat.to(torch.promote_types(feat.dtype, torch.float32))
    if feat.is_contiguous(memory_format=torch.channels_last) and not feat.is_contiguous():
        a = feat.permute(0, 2, 3, 1).reshape(h * w, c)
    else:
        a = feat.reshape(c, h * w).t()
    return cast(torch.Tensor, _Gram.apply(a, h * w))


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels (x in [0, 1])."""
    dx = x[..., :, 1:] - x[..., :, :-1]
    dy = x[..., 1:, :] - x[..., :-1, :]
    return dx.square().mean() + dy.square().mean()


@dataclass
class StyleTarget:
    """Per-layer Gram targets and their squared norms (for scale-invariant losses)."""

    grams: dict[str, torch.Tensor]
    norms: dict[str, torch.Tensor]

    @classmethod
    def from_grams(cls, grams: Mapping[str, torch.Tensor]) -> StyleTarget:
        grams = dict(grams)
        return cls(grams, {k: g.square().sum().clamp_min(1e-12) for k, g in grams.items()})

    @staticmethod
    def blend(targets: Sequence[tuple[StyleTarget, float]]) -> StyleTarget:
        """Weighted mean of several targets.

        For squared Gram losses Σ wᵢ‖G − Gᵢ‖² equals ‖G − Σ wᵢGᵢ‖² plus a constant (Σ wᵢ = 1),
        so blending targets gives the same gradients as summing losses, for one comparison.
        """
        total = sum(w for _, w in targets)
        layers = targets[0][0].grams.keys()
        grams = {
            layer: cast(torch.Tensor, sum(t.grams[layer] * (w / total) for t, w in targets))
            for layer in layers
        }
        return StyleTarget.from_grams(grams)


@dataclass
class LossParts:
    """The weighted loss (with its graph) and its terms, detached 0-d tensors.

    The terms stay on the device so that logging them costs no host synchronisation per
    evaluation; read them with `.item()` only when they are reported.
    """

    total: torch.Tensor
    content: torch.Tensor
    style: torch.Tensor
    tv: torch.Tensor


class Objective:
    """Weighted content + style + TV loss of an image against fixed targets.

    content = ‖F(x) − F(c)‖² / ‖F(c)‖² (per content layer, averaged);
    style = mean over layers of ‖G(x) − T‖² / ‖T‖² — each layer contributes equally and
    neither term depends on the image size.
    """

    def __init__(
        self,
        encoder: torch.nn.Module,
        content_feats: Mapping[str, torch.Tensor],
        style: StyleTarget,
        *,
        content_weight: float,
        style_weight: float,
        tv_weight: float,
        layer_weights: Mapping[str, float] | None = None,
        autocast: Autocast | None = None,
    ) -> None:
        self.encoder = encoder
        self.content = {k: v.detach().float() for k, v in content_feats.items()}
        self.content_norm = {k: v.square().sum().clamp_min(1e-12) for k, v in self.content.items()}
        self.style = style
        self.content_weight = content_weight
        self.style_weight = style_weight
        self.tv_weight = tv_weight
        lw = layer_weights or {}
        raw = {k: float(lw.get(k, 1.0)) for k in style.grams}
        norm = sum(raw.values())
        self.layer_weights = {k: v / norm for k, v in raw.items()}
        self.layers = tuple(self.content) + tuple(k for k in style.grams if k not in self.content)
        self.autocast = autocast

    def __call__(self, x: torch.Tensor) -> LossParts:
        if self.autocast is not None:
            with self.autocast():
                feats = self.encoder(x, self.layers)
        else:
            feats = self.encoder(x, self.layers)
        content = x.new_zeros((), dtype=torch.float32)
        for layer, target in self.content.items():
            diff = feats[layer].float() - target
            content = content + diff.square().sum() / self.content_norm[layer]
        content = content / max(1, len(self.content))
        style = x.new_zeros((), dtype=torch.float32)
        for layer, target in self.style.grams.items():
            g = gram(feats[layer])
            style = style + self.layer_weights[layer] * (
                (g - target).square().sum() / self.style.norms[layer]
            )
        tv = total_variation(x.float()) if self.tv_weight > 0 else x.new_zeros(())
        c = self.content_weight * content
        s = self.style_weight * style
        t = self.tv_weight * tv
        total = c + s + t
        return LossParts(total, c.detach(), s.detach(), t.detach().float())


def image_key(img: Image.Image) -> str:
    """Content hash of an image's pixels (mode and size included)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{img.mode}:{img.size}".encode())
    h.update(img.tobytes())
    return h.hexdigest()
