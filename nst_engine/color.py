"""Colour preservation: colour-statistics matching and luminance-only transfer."""

from __future__ import annotations

from collections.abc import Sequence

import torch

# RGB → YIQ (NTSC); Y carries luminance, I/Q the chroma.
_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.5959, -0.2746, -0.3213], [0.2115, -0.5227, 0.3112]])


def _mean_cov(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = x.reshape(3, -1).double()
    mean = pixels.mean(dim=1, keepdim=True)
    centred = pixels - mean
    cov = centred @ centred.t() / max(1, pixels.shape[1] - 1)
    return mean, cov + 1e-5 * torch.eye(3, dtype=cov.dtype, device=cov.device)


def _sqrtm(cov: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(cov)
    vals = vals.clamp_min(1e-8).sqrt()
    if inverse:
        vals = 1.0 / vals
    root: torch.Tensor = vecs @ torch.diag(vals) @ vecs.t()
    return root


def match_color(source: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """`source` (1,3,H,W in [0,1]) recoloured to the mean and covariance of `reference`."""
    return match_stats(source, *_mean_cov(reference))


def mixture_stats(
    images: Sequence[tuple[torch.Tensor, float]],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Colour mean and covariance of the weighted mixture of several images' pixels."""
    if not images:
        raise ValueError("no images to take colour statistics from")
    total = sum(w for _, w in images)
    stats = [(*_mean_cov(img), w / total) for img, w in images]
    # The mixture's E[x] and E[xxᵀ] are the weighted means of the images' own.
    mean = torch.stack([mu * f for mu, _, f in stats]).sum(0)
    second = torch.stack([(cov + mu @ mu.t()) * f for mu, cov, f in stats]).sum(0)
    return mean, second - mean @ mean.t()


def match_stats(source: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """`source` (1,3,H,W in [0,1]) recoloured to colour mean `mean` (3,1), covariance `cov`."""
    mu_s, cov_s = _mean_cov(source)
    transform = _sqrtm(cov.to(cov_s)) @ _sqrtm(cov_s, inverse=True)
    pixels = source.reshape(3, -1).double()
    out = transform @ (pixels - mu_s) + mean.to(mu_s)
    return out.reshape(source.shape).to(source.dtype).clamp_(0.0, 1.0)


def to_yiq(x: torch.Tensor) -> torch.Tensor:
    """(N,3,H,W) RGB → YIQ."""
    return torch.einsum("ij,njhw->nihw", _YIQ.to(x), x)


def from_yiq(x: torch.Tensor) -> torch.Tensor:
    """(N,3,H,W) YIQ → RGB."""
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(_YIQ).to(x), x)


def luminance_transfer(stylised: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Luminance of `stylised` with the chroma (I, Q) of `content`; same shapes."""
    y = to_yiq(stylised)[:, :1]
    iq = to_yiq(content)[:, 1:]
    return from_yiq(torch.cat([y, iq], dim=1)).clamp_(0.0, 1.0)
