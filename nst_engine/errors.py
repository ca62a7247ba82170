"""Exceptions raised by the engine; Pillow- and torch-free so any process can import them."""

from __future__ import annotations


class NSTError(Exception):
    """Base class of every error the engine raises on purpose."""


class ImageError(NSTError):
    """An input image that cannot be used; `message` is safe to show to the user."""

    CODES = frozenset(
        {
            "empty",
            "not_an_image",
            "unsupported_format",
            "truncated",
            "too_many_pixels",
            "too_small",
            "bad_aspect_ratio",
            "too_large_bytes",
        }
    )

    def __init__(self, code: str, message: str) -> None:
        if code not in self.CODES:
            raise ValueError(f"unknown image error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message


class Cancelled(NSTError):
    """Raised by `stylize` when its `should_stop` hook asks it to stop."""


class OutOfMemoryError(NSTError):
    """The device could not fit the job even after shrinking it."""


class WeightsError(NSTError):
    """VGG19 weights could not be loaded from the requested source."""
