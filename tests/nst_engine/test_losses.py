"""Gram matrices (the definition, the one-product backward, both memory formats) and style
targets."""

from __future__ import annotations

import pytest
import torch

from nst_engine.losses import StyleTarget, gram


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_gram_matches_definition_and_its_gradient(layout):
    torch.manual_seed(0)
    feat = torch.randn(1, 6, 5, 4, dtype=torch.float64).contiguous(memory_format=layout)
    flat = feat.reshape(6, 20)
    torch.testing.assert_close(gram(feat), flat @ flat.t() / 20)

    weights = torch.randn(6, 6, dtype=torch.float64)  # not symmetric: exercises dG + dGᵀ
    leaf = feat.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x: (gram(x) * weights).sum(), (leaf,))
    (grad,) = torch.autograd.grad((gram(leaf) * weights).sum(), leaf)
    # The gradient comes back in the map's own layout (no re-layout in the backward pass).
    assert grad.stride() == feat.stride()


def test_gram_of_reduced_precision_maps_is_fp32():
    feat = torch.rand(1, 4, 3, 3).to(torch.bfloat16)
    g = gram(feat)
    assert g.dtype == torch.float32
    flat = feat.float().reshape(4, 9)
    torch.testing.assert_close(g, flat @ flat.t() / 9)


def test_blended_targets_are_the_weighted_mean():
    a = StyleTarget.from_grams({"relu1_1": torch.ones(2, 2)})
    b = StyleTarget.from_grams({"relu1_1": torch.full((2, 2), 4.0)})
    mixed = StyleTarget.blend([(a, 3.0), (b, 1.0)])
    torch.testing.assert_close(mixed.grams["relu1_1"], torch.full((2, 2), 1.75))
