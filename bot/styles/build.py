"""Regenerate the bundled paintings from the originals: `python -m bot.styles.build`.

Reads each manifest entry's `source` from `--source` (default `../shared/images`, relative to
the repository root), and writes a copy with the long side `--side` px (512) as a JPEG of
quality `--quality` (88, lowered step by step until the file is under `--max-kb`), without
metadata, into `bot/styles/paintings/`. The copies are committed; run this only to change them.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from PIL import Image

from bot.styles import PAINTINGS, library

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_SOURCE = REPO.parent / "shared" / "images"
LONG_SIDE = 512
QUALITY = 88
MAX_KB = 150
MIN_QUALITY = 60


def downscale(data: bytes, *, side: int, quality: int, max_bytes: int) -> bytes:
    """A JPEG of the image with its long side at most `side`, under `max_bytes` if quality
    ≥ MIN_QUALITY allows; metadata (EXIF, ICC) is dropped."""
    with Image.open(io.BytesIO(data)) as src:
        img = src.convert("RGB")
    img.thumbnail((side, side), Image.Resampling.LANCZOS)
    while True:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality, optimize=True, progressive=True)
        if buf.tell() <= max_bytes or quality <= MIN_QUALITY:
            return buf.getvalue()
        quality -= 4


def build(source: Path, out: Path, *, side: int, quality: int, max_kb: int) -> list[str]:
    """Write every painting's copy into `out`; returns one report line per painting."""
    lines = []
    for style in library():
        original = source / style.source
        if not original.is_file():
            raise SystemExit(f"missing original for {style.name}: {original}")
        data = downscale(original.read_bytes(), side=side, quality=quality, max_bytes=max_kb * 1024)
        (out / style.file).write_bytes(data)
        lines.append(f"{style.file}: {len(data) / 1024:.0f} KB")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--side", type=int, default=LONG_SIDE)
    parser.add_argument("--quality", type=int, default=QUALITY)
    parser.add_argument("--max-kb", type=int, default=MAX_KB)
    args = parser.parse_args(argv)
    lines = build(
        args.source, HERE / PAINTINGS, side=args.side, quality=args.quality, max_kb=args.max_kb
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
