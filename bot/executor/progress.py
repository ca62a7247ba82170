"""Hand engine progress from the engine thread to the asyncio loop, throttled.

The engine calls the relay on every step from its worker thread; the relay keeps only the newest
snapshot (and encodes a small JPEG preview every few seconds), and the loop's reporter task takes
what is new about once a second, so the database sees at most one progress write per second no
matter how fast the engine steps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nst_engine.images import encode_jpeg, fit_within

if TYPE_CHECKING:
    from nst_engine.results import Progress

PREVIEW_MAX_SIDE = 320
PREVIEW_QUALITY = 70


@dataclass(frozen=True)
class Snapshot:
    """The numbers the store records for a running job."""

    scale: int
    scales: int
    step: int
    total_steps: int
    loss: float
    elapsed_s: float
    eta_s: float | None


@dataclass(frozen=True)
class EncodedPreview:
    """A small JPEG of the image so far, and its pixel size."""

    jpeg: bytes
    width: int
    height: int


class ProgressRelay:
    """Callable given to `stylize(callback=...)`; thread-safe."""

    def __init__(
        self,
        *,
        preview_interval_s: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        on_step: Callable[[Progress], None] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._preview_interval_s = preview_interval_s
        self._last_preview_at = clock()
        self._latest: Snapshot | None = None
        self._preview: EncodedPreview | None = None
        self._fresh = False
        self._on_step = on_step

    def __call__(self, progress: Progress) -> None:
        snap = Snapshot(
            scale=int(progress.scale),
            scales=int(progress.scales),
            step=int(progress.step),
            total_steps=int(progress.total_steps),
            loss=float(progress.loss),
            elapsed_s=float(progress.elapsed_s),
            eta_s=None if progress.eta_s is None else float(progress.eta_s),
        )
        encoded = None
        preview = progress.preview
        now = self._clock()
        if preview is not None and now - self._last_preview_at >= self._preview_interval_s:
            # Encoded here, in the engine thread, so the event loop never does image work.
            small = fit_within(preview, PREVIEW_MAX_SIDE)
            encoded = EncodedPreview(
                encode_jpeg(small, quality=PREVIEW_QUALITY), small.width, small.height
            )
            self._last_preview_at = now
        with self._lock:
            self._latest = snap
            self._fresh = True
            if encoded is not None:
                self._preview = encoded
        if self._on_step is not None:
            self._on_step(progress)

    @property
    def latest(self) -> Snapshot | None:
        """The newest snapshot, taken or not."""
        with self._lock:
            return self._latest

    def take(self) -> tuple[Snapshot | None, EncodedPreview | None]:
        """What arrived since the last call: (snapshot or None, preview or None)."""
        with self._lock:
            snap = self._latest if self._fresh else None
            preview, self._preview = self._preview, None
            self._fresh = False
        return snap, preview
