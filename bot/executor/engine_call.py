"""Run one job through the engine (in a worker thread) and classify how it ended.

Nothing here touches the database: the worker loop fetches the inputs, calls `run_job` in a
thread, and records the `Outcome`. Every way a job can end maps to exactly one outcome kind, so
the loop never has to guess from an exception.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from bot.store import JobParams
from nst_engine.encoder_cache import EncoderCache
from nst_engine.errors import Cancelled, ImageError, OutOfMemoryError, WeightsError
from nst_engine.images import decode_image, encode_png
from nst_engine.params import JOB_PARAMS, MIN_SIZE
from nst_engine.style_cache import StyleTargetCache

if TYPE_CHECKING:
    from nst_engine.results import Progress, StylizeResult

log = logging.getLogger(__name__)

INTERNAL_MESSAGE = (
    "Something went wrong on our side while stylizing this image (internal error). "
    "It has been logged; please try again later."
)
OOM_MESSAGE = (
    "The image could not be stylized at this size even after shrinking it (out of memory). "
    "Try a smaller size."
)


@dataclass
class JobInput:
    """Everything the engine needs for one job, taken from the store's claimed job."""

    job_id: int
    content: bytes
    styles: Sequence[tuple[bytes, float]]
    params: JobParams = field(default_factory=JobParams)


@dataclass
class Outcome:
    """How a job ended: succeeded (with `png`), failed (with code + message) or cancelled."""

    kind: Literal["succeeded", "failed", "cancelled"]
    png: bytes | None = None
    width: int = 0
    height: int = 0
    steps: int = 0
    elapsed_s: float = 0.0
    device: str = ""
    precision: str | None = None  # "bf16" or "fp32": what the VGG passes ran in
    notes: list[str] = field(default_factory=list)
    error_code: str | None = None
    error_message: str | None = None


@dataclass
class EngineOptions:
    """Per-process engine settings (the same for every job this executor runs)."""

    device: str | None = None
    weights: str = "caffe"
    max_size: int = 1024
    max_pixels: int = 40_000_000
    preview_every: int = 10
    # The engine renders a preview once this long since its last one; ProgressRelay forwards
    # one per its own, longer interval. Rendering more often than forwarding means each
    # forwarded preview is at most a step late (at equal intervals half of them would be
    # dropped for arriving a moment early, doubling the gap the user sees).
    preview_interval_s: float = 1.0
    bf16: str | bool = "auto"  # the BF16 setting; nst_engine.precision decides what it means
    # Style Gram targets kept for this process's life: a style used again costs no VGG pass.
    style_cache: StyleTargetCache = field(default_factory=StyleTargetCache)
    # The VGG19 loaded at warm-up and used by every job (its weights load once).
    encoders: EncoderCache = field(default_factory=EncoderCache)


def run_job(
    job: JobInput,
    options: EngineOptions,
    *,
    callback: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    stylize: Callable[..., StylizeResult] | None = None,
) -> Outcome:
    """Decode the inputs, run `nst_engine.stylize`, encode the PNG; never raises for job errors."""
    try:
        content = decode_image(job.content, max_pixels=options.max_pixels)
        styles = [(decode_image(data, max_pixels=options.max_pixels), w) for data, w in job.styles]
        if not styles:
            return _failed("no_style", "The job has no style image.")
        if stylize is None:
            from nst_engine import stylize as engine_stylize

            stylize = engine_stylize
        # Every job parameter reaches the engine under its own name (nst_engine.params).
        values = {param.name: getattr(job.params, param.name) for param in JOB_PARAMS}
        values["size"] = max(MIN_SIZE, min(int(job.params.size), options.max_size))
        result = stylize(
            content,
            styles,
            **values,
            device=options.device,
            weights=options.weights,
            precision=options.bf16,
            callback=callback,
            preview_every=options.preview_every,
            preview_interval_s=options.preview_interval_s,
            should_stop=should_stop,
            style_cache=options.style_cache,
            encoders=options.encoders,
        )
        png = encode_png(result.image)
    except ImageError as exc:
        return _failed(exc.code, exc.message)
    except Cancelled:
        return Outcome(kind="cancelled")
    except OutOfMemoryError as exc:
        log.warning("job %s: out of memory: %s", job.job_id, exc)
        return _failed("out_of_memory", OOM_MESSAGE)
    except WeightsError:
        log.exception("job %s: VGG19 weights could not be loaded", job.job_id)
        return _failed("internal_error", INTERNAL_MESSAGE)
    except Exception as exc:
        if _is_device_oom(exc):
            log.warning("job %s: out of memory escaped the engine: %s", job.job_id, exc)
            return _failed("out_of_memory", OOM_MESSAGE)
        log.exception("job %s: internal error in the engine", job.job_id)
        return _failed("internal_error", INTERNAL_MESSAGE)
    return Outcome(
        kind="succeeded",
        png=png,
        width=result.image.width,
        height=result.image.height,
        steps=int(result.steps),
        elapsed_s=float(result.elapsed_s),
        device=str(result.device),
        precision=str(result.precision),
        notes=list(result.notes),
    )


def _failed(code: str, message: str) -> Outcome:
    return Outcome(kind="failed", error_code=code, error_message=message)


def _is_device_oom(exc: BaseException) -> bool:
    # torch.cuda.OutOfMemoryError / MPS "out of memory" RuntimeErrors, without importing torch.
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


StopReason = Literal["cancel", "shutdown", "lost"]
_PRECEDENCE = {"shutdown": 0, "cancel": 1, "lost": 2}


class StopFlag:
    """The engine's `should_stop` hook; remembers *why* it was raised.

    `cancel`: the user asked; `shutdown`: SIGTERM, requeue the job; `lost`: the job was taken
    away (requeued as stale), write nothing. A cancel must win over a shutdown (the job must not
    be requeued after it), and a lost job wins over both.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: StopReason | None = None
        self.set_at: float | None = None  # time.monotonic() of the first request

    def set(self, reason: StopReason) -> None:
        if self.reason is None or _PRECEDENCE[reason] > _PRECEDENCE[self.reason]:
            self.reason = reason
        if self.set_at is None:
            self.set_at = time.monotonic()
        self._event.set()

    def __call__(self) -> bool:
        return self._event.is_set()
