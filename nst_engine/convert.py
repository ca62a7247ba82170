"""Conversions between PIL images and (1, 3, H, W) float tensors in [0, 1]; sizing helpers."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def scaled_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(width, height) with the long side equal to `long_side`, aspect kept (≥ 1 px each)."""
    if width >= height:
        return long_side, max(1, round(height * long_side / width))
    return max(1, round(width * long_side / height)), long_side


def resize_long_side(img: Image.Image, long_side: int) -> Image.Image:
    """Antialiased resize (up or down) so the long side is exactly `long_side`."""
    size = scaled_size(*img.size, long_side)
    if size == img.size:
        return img
    return img.resize(size, Image.Resampling.LANCZOS)


def to_tensor(img: Image.Image, device: torch.device | str = "cpu") -> torch.Tensor:
    """RGB PIL image → (1, 3, H, W) float32 in [0, 1] on `device`."""
    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    t = torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0)
    return t.to(device=device, dtype=torch.float32).div_(255.0)


def to_image(t: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) tensor in [0, 1] → RGB PIL image (clamped, NaN → 0)."""
    t = t.detach()
    if t.dim() == 4:
        t = t[0]
    t = torch.nan_to_num(t.float(), nan=0.0).clamp(0.0, 1.0)
    arr = (t.mul(255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()).copy()
    return Image.fromarray(arr, "RGB")
