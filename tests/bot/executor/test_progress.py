"""`bot.executor.progress`: the relay keeps the newest snapshot and throttles previews."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from bot.executor.progress import ProgressRelay


@dataclass
class FakeProgress:
    step: int
    scale: int = 1
    scales: int = 2
    total_steps: int = 100
    loss: float = 1.0
    content_loss: float = 0.5
    style_loss: float = 0.5
    tv_loss: float = 0.0
    elapsed_s: float = 0.0
    eta_s: float | None = 9.0
    preview: Image.Image | None = None


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_relay_keeps_only_the_newest_snapshot_and_throttles_previews():
    clock = Clock()
    relay = ProgressRelay(preview_interval_s=3.0, clock=clock)
    assert relay.take() == (None, None)
    img = Image.new("RGB", (500, 250), (200, 10, 10))
    for step in range(1, 6):
        clock.now += 0.5
        relay(FakeProgress(step=step, preview=img))
    snap, preview = relay.take()
    assert snap is not None and snap.step == 5 and snap.total_steps == 100
    assert preview is None  # only 2.5 s since start: no preview yet
    assert relay.take() == (None, None)  # nothing new since

    clock.now += 1.0
    relay(FakeProgress(step=6, preview=img))
    snap, preview = relay.take()
    assert snap is not None and snap.step == 6
    assert preview is not None and preview.jpeg[:3] == b"\xff\xd8\xff"  # a JPEG
    decoded = Image.open(io.BytesIO(preview.jpeg))
    assert decoded.size == (preview.width, preview.height) == (320, 160)

    clock.now += 1.0  # too soon for another preview
    relay(FakeProgress(step=7, preview=img))
    assert relay.take()[1] is None
