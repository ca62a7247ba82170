"""Implementation-independent quality metrics for a stylised image (lower is better).

Definition: Caffe VGG19 (max pooling); every image resized (antialiased) so its long side is
384 px, the output resized to the content's evaluation size; F = activations after ReLU.
- content distance = ‖F_relu4_2(O) − F_relu4_2(C)‖² / ‖F_relu4_2(C)‖²
- style distance = mean over relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 of
  ‖G(O) − G(S)‖_F / ‖G(S)‖_F, with G = F Fᵀ / (H·W).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from nst_engine.convert import resize_long_side, to_tensor
from nst_engine.losses import gram
from nst_engine.vgg import VGGEncoder, load_encoder

EVAL_LONG_SIDE = 384
CONTENT_LAYER = "relu4_2"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@dataclass(frozen=True)
class Scores:
    content: float
    style: float


def _encoder(device: str | None) -> VGGEncoder:
    return load_encoder("caffe", device or "cpu", pooling="max")


@torch.no_grad()
def _features(
    img: Image.Image,
    layers: Sequence[str],
    device: str | None,
    size: tuple[int, int] | None = None,
) -> dict[str, torch.Tensor]:
    enc = _encoder(device)
    img = img.convert("RGB")
    img = (
        img.resize(size, Image.Resampling.LANCZOS)
        if size
        else resize_long_side(img, EVAL_LONG_SIDE)
    )
    feats: dict[str, torch.Tensor] = enc(to_tensor(img, next(enc.parameters()).device), layers)
    return feats


def content_distance(
    output: Image.Image, content: Image.Image, *, device: str | None = None
) -> float:
    """‖F(O) − F(C)‖² / ‖F(C)‖² at relu4_2 (0 for identical images)."""
    c_size = resize_long_side(content.convert("RGB"), EVAL_LONG_SIDE).size
    fc = _features(content, (CONTENT_LAYER,), device)[CONTENT_LAYER]
    fo = _features(output, (CONTENT_LAYER,), device, size=c_size)[CONTENT_LAYER]
    return float((fo - fc).square().sum() / fc.square().sum().clamp_min(1e-12))


def style_distance(
    output: Image.Image,
    style: Image.Image,
    *,
    content: Image.Image | None = None,
    device: str | None = None,
) -> float:
    """Mean relative Frobenius distance of Gram matrices over the five style layers.

    The output is evaluated at the content's evaluation size when `content` is given (as
    the definition says), else at a long side of 384 px.
    """
    size = resize_long_side(content.convert("RGB"), EVAL_LONG_SIDE).size if content else None
    fs = _features(style, STYLE_LAYERS, device)
    fo = _features(output, STYLE_LAYERS, device, size=size)
    total = 0.0
    for layer in STYLE_LAYERS:
        gs, go = gram(fs[layer]), gram(fo[layer])
        total += float(torch.linalg.norm(go - gs) / torch.linalg.norm(gs).clamp_min(1e-12))
    return total / len(STYLE_LAYERS)


def score(
    output: Image.Image,
    content: Image.Image,
    style: Image.Image,
    *,
    device: str | None = None,
) -> Scores:
    """Both distances of `output` for the pair (content, style)."""
    return Scores(
        content=content_distance(output, content, device=device),
        style=style_distance(output, style, content=content, device=device),
    )
