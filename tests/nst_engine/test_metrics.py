"""The quality metrics: zero for identical images, and they rank a stylisation correctly."""

from __future__ import annotations

import pytest

from nst_engine import stylize
from nst_engine.metrics import content_distance, score, style_distance


def test_identical_images_score_zero(content_img, style_img):
    assert content_distance(content_img, content_img) == 0.0
    assert style_distance(style_img, style_img) == pytest.approx(0.0, abs=1e-6)
    assert content_distance(style_img.resize(content_img.size), content_img) > 0.3


def test_stylisation_ranks_above_plain_content_on_style(content_img, style_img):
    # The fixtures are 256 px, so the 384-px evaluation upsamples everything (blurs).
    result = stylize(content_img, [style_img], size=128, preset="fast")
    plain = score(content_img, content_img, style_img)
    styled = score(result.image, content_img, style_img)
    blurred = score(content_img.resize((128, 96)), content_img, style_img)
    assert styled.style < plain.style and styled.style < blurred.style
    assert styled.content > blurred.content  # the trade-off: content moved away
