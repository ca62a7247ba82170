"""A corpus of awkward uploads, generated in memory, shared by engine and bot tests.

`CORPUS` maps a case name to (bytes, expected ImageError code or None when it must decode).
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def photo(size: tuple[int, int] = (64, 48)) -> Image.Image:
    """A small non-uniform RGB image (a gradient with a square)."""
    w, h = size
    img = Image.new("RGB", size)
    img.putdata([(x * 255 // w, y * 255 // h, 128) for y in range(h) for x in range(w)])
    img.paste((250, 20, 20), (w // 4, h // 4, w // 2, h // 2))
    return img


def text_as_png() -> bytes:
    return b"Dear diary,\nthis is not a picture at all.\n" * 4


def truncated_png() -> bytes:
    data = png(photo((128, 96)))
    return data[: len(data) // 2]


def decompression_bomb(side: int = 10_000) -> bytes:
    """A tiny PNG whose header claims side×side pixels (zlib-compressed zeros)."""
    raw_row = b"\x00" + b"\x00" * side  # filter byte + greyscale row
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(raw_row) for _ in range(side)) + compressor.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (48, 48), colour) for colour in ("red", "lime", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    return buf.getvalue()


def cmyk_jpeg() -> bytes:
    buf = io.BytesIO()
    photo().convert("CMYK").save(buf, format="JPEG")
    return buf.getvalue()


def png16() -> bytes:
    img = Image.new("I;16", (64, 48))
    img.putdata([(x * 1000) % 65535 for x in range(64 * 48)])
    return png(img)


def rgba_png() -> bytes:
    img = photo().convert("RGBA")
    img.putalpha(128)
    return png(img)


def extreme_aspect() -> bytes:
    return png(photo((2000, 40)))


def svg() -> bytes:
    return b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>'


def heic() -> bytes:
    # The ISO-BMFF header of an iPhone photo: size, "ftyp", major brand "heic".
    return struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00mif1heic" + b"\x00" * 64


CORPUS: dict[str, tuple[bytes, str | None]] = {
    "text_renamed_png": (text_as_png(), "not_an_image"),
    "zero_bytes": (b"", "empty"),
    "truncated_png": (truncated_png(), "truncated"),
    "decompression_bomb": (decompression_bomb(), "too_many_pixels"),
    "extreme_aspect": (extreme_aspect(), "bad_aspect_ratio"),
    "svg": (svg(), "unsupported_format"),
    "heic": (heic(), "unsupported_format"),
    "animated_gif": (animated_gif(), None),
    "cmyk_jpeg": (cmyk_jpeg(), None),
    "png16": (png16(), None),
    "rgba_png": (rgba_png(), None),
}
