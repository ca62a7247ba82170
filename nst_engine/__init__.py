"""nst_engine: Gatys-style neural style transfer (VGG19 + L-BFGS) as a library.

Torch-using names load lazily, so `import nst_engine.images` / `nst_engine.errors` (Pillow
only) never import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nst_engine.errors import Cancelled, ImageError, NSTError, OutOfMemoryError, WeightsError

if TYPE_CHECKING:
    from nst_engine.results import Progress, StylizeResult
    from nst_engine.transfer import stylize
    from nst_engine.vgg import VGGEncoder, load_encoder

_LAZY = {
    "stylize": "nst_engine.transfer",
    "Progress": "nst_engine.results",
    "StylizeResult": "nst_engine.results",
    "VGGEncoder": "nst_engine.vgg",
    "load_encoder": "nst_engine.vgg",
    "select_device": "nst_engine.device",
    "PRESETS": "nst_engine.presets",
}

__all__ = [
    "PRESETS",
    "Cancelled",
    "ImageError",
    "NSTError",
    "OutOfMemoryError",
    "Progress",
    "StylizeResult",
    "VGGEncoder",
    "WeightsError",
    "load_encoder",
    "select_device",
    "stylize",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nst_engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
