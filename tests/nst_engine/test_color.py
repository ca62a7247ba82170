"""Colour statistics: matching an image to a mean and covariance, and mixtures of images."""

from __future__ import annotations

import torch

from nst_engine.color import _mean_cov, match_color, match_stats, mixture_stats


def _image(seed: int, tint: tuple[float, float, float], h: int = 24, w: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = torch.rand((1, 3, h, w), generator=g) * 0.4
    return (base + torch.tensor(tint).view(1, 3, 1, 1)).clamp(0, 1)


def test_a_mixture_has_the_statistics_of_its_pooled_pixels():
    a, b = _image(0, (0.5, 0.1, 0.1)), _image(1, (0.1, 0.2, 0.5))
    mean, cov = mixture_stats([(a, 3.0), (b, 1.0)])
    # Weight 3 : 1 is the same as pooling a's pixels three times with b's once.
    pooled = torch.cat([a, a, a, b], dim=3)
    want_mean, want_cov = _mean_cov(pooled)
    torch.testing.assert_close(mean, want_mean, atol=1e-6, rtol=0)
    torch.testing.assert_close(cov, want_cov, atol=2e-4, rtol=0)  # n vs n-1 per image


def test_matching_gives_the_target_statistics():
    source, reference = _image(2, (0.1, 0.4, 0.2)), _image(3, (0.4, 0.3, 0.2))
    out = match_stats(source, *_mean_cov(reference))
    mean, cov = _mean_cov(out)
    want_mean, want_cov = _mean_cov(reference)
    torch.testing.assert_close(mean, want_mean, atol=1e-4, rtol=0)
    torch.testing.assert_close(cov, want_cov, atol=1e-4, rtol=0)
    torch.testing.assert_close(match_color(source, reference), out)
