"""The small dataclasses `stylize` reports through: progress updates and the final result."""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image


@dataclass
class Progress:
    """One progress report, sent after every accepted optimiser iteration."""

    scale: int  # 1-based pyramid level
    scales: int
    step: int  # accepted iterations done overall
    total_steps: int  # budget; shrinks when a scale stops early
    loss: float
    content_loss: float
    style_loss: float
    tv_loss: float
    elapsed_s: float
    eta_s: float | None
    preview: Image.Image | None = None


@dataclass
class StylizeResult:
    image: Image.Image
    steps: int  # accepted iterations, all scales
    elapsed_s: float
    device: str
    precision: str = "fp32"  # what the VGG passes ran in: "bf16" or "fp32"
    notes: list[str] = field(default_factory=list)
    evaluations: int = 0  # loss/gradient evaluations (line-search trials included)
    sizes: list[tuple[int, int]] = field(default_factory=list)  # (w, h) of each scale
    scale_steps: list[int] = field(default_factory=list)  # accepted iterations per scale
