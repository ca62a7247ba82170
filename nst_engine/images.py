"""Safe image decoding and encoding (Pillow only, so the Discord process can validate inputs).

Every way an upload can be unusable becomes an `ImageError` with a code for the record and a
message written for the person who sent it.
"""

from __future__ import annotations

import io
import warnings
from typing import cast

from PIL import Image, ImageOps, UnidentifiedImageError

from nst_engine.errors import ImageError

DEFAULT_MAX_PIXELS = 40_000_000
MIN_SIDE = 16
MAX_ASPECT = 10.0
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "MPO"})
_FRIENDLY_FORMATS = "PNG, JPEG, WebP, GIF, BMP or TIFF"

# decode_image enforces its own (stricter) pixel cap from the header, so Pillow's bomb warning
# is noise; `warnings.catch_warnings` would be racy in the decoding threads, hence a filter.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def _sniff_unsupported(head: bytes) -> str | None:
    """Name formats Pillow can't read but users commonly send, so the refusal is specific."""
    stripped = head.lstrip()[:512].lower()
    if stripped.startswith(b"<svg") or (stripped.startswith(b"<?xml") and b"<svg" in stripped):
        return "SVG"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"}:
            return "HEIC"
        if brand in {b"avif", b"avis"}:
            return "AVIF"
    if head.startswith(b"%PDF"):
        return "PDF"
    return None


def _looks_like_text(head: bytes) -> bool:
    try:
        head[:1024].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _to_rgb(img: Image.Image) -> Image.Image:
    """Flatten any Pillow mode to 8-bit RGB; transparency is composited on white."""
    if img.mode in {"I;16", "I;16L", "I;16B", "I;16N"}:
        img = img.convert("I")
    if img.mode in {"I", "F"}:
        # 16/32-bit greyscale: scale to 8 bits instead of clipping everything to white.
        lo, hi = cast(tuple[float, float], img.getextrema())  # one band: (min, max)
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        img = img.point(lambda v: (v - lo) * scale).convert("L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in {"RGBA", "LA", "PA", "RGBa", "La"}:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB") if img.mode != "RGB" else img


def decode_image(
    data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_bytes: int | None = None
) -> Image.Image:
    """Decode untrusted bytes into an upright RGB image, or raise `ImageError`.

    The pixel cap is checked from the header, before any pixel data is decoded.
    Animated images give their first frame.
    """
    if not data:
        raise ImageError("empty", "The file is empty (0 bytes).")
    if max_bytes is not None and len(data) > max_bytes:
        raise ImageError(
            "too_large_bytes",
            f"The file is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB.",
        )
    sniffed = _sniff_unsupported(data[:1024])
    if sniffed:
        raise ImageError(
            "unsupported_format",
            f"{sniffed} files aren't supported. Please send a {_FRIENDLY_FORMATS} image "
            f"(for example a screenshot or an export of it).",
        )
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise ImageError(
            "too_many_pixels", "The image has far too many pixels to process."
        ) from None
    except UnidentifiedImageError:
        if _looks_like_text(data):
            raise ImageError(
                "not_an_image", "That file is text, not an image (was it renamed to .png?)."
            ) from None
        raise ImageError(
            "not_an_image", f"That file isn't an image I can read. Please send {_FRIENDLY_FORMATS}."
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise ImageError("truncated", "The image file is corrupt and can't be read.") from None

    if img.format not in ACCEPTED_FORMATS:
        raise ImageError(
            "unsupported_format",
            f"{img.format or 'This'} images aren't supported. Please send {_FRIENDLY_FORMATS}.",
        )
    width, height = img.size
    if width * height > max_pixels:
        raise ImageError(
            "too_many_pixels",
            f"The image is {width}×{height} ({width * height / 1e6:.0f} megapixels); "
            f"the limit is {max_pixels / 1e6:.0f} megapixels.",
        )
    if min(width, height) < MIN_SIDE:
        raise ImageError(
            "too_small", f"The image is {width}×{height}; each side must be at least {MIN_SIDE} px."
        )
    if max(width, height) / min(width, height) > MAX_ASPECT:
        raise ImageError(
            "bad_aspect_ratio",
            f"The image is {width}×{height}, too elongated; "
            f"the long side may be at most {MAX_ASPECT:g}× the short side.",
        )
    try:
        img.seek(0)
        img.load()
        upright = ImageOps.exif_transpose(img)
    except (OSError, SyntaxError, ValueError, EOFError):
        raise ImageError(
            "truncated",
            "The image file is incomplete or corrupt (it may have been cut off while uploading).",
        ) from None
    return _to_rgb(upright)


def fit_within(img: Image.Image, max_side: int) -> Image.Image:
    """Downscale (antialiased) so the long side is at most `max_side`; never upscale."""
    width, height = img.size
    if max(width, height) <= max_side:
        return img
    scale = max_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def encode_png(img: Image.Image) -> bytes:
    """Lossless PNG bytes of an image."""
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def encode_jpeg(img: Image.Image, *, max_side: int | None = None, quality: int = 80) -> bytes:
    """JPEG bytes (for previews and over-limit results), optionally downscaled first."""
    if max_side is not None:
        img = fit_within(img, max_side)
    buffer = io.BytesIO()
    img.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()
