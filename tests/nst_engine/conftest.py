"""Engine test helpers: tiny real images and single-threaded torch (the CPU is shared)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

# One thread: the CPU is shared, and oversubscribed OpenMP threads spin (10x slower).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def content_img(fixture_images: Path) -> Image.Image:
    return Image.open(fixture_images / "tubingen.jpg").convert("RGB")


@pytest.fixture(scope="session")
def style_img(fixture_images: Path) -> Image.Image:
    return Image.open(fixture_images / "starry_night.jpg").convert("RGB")


@pytest.fixture(scope="session")
def style_img2(fixture_images: Path) -> Image.Image:
    return Image.open(fixture_images / "the_scream.jpg").convert("RGB")
