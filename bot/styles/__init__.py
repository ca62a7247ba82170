"""The bundled style library: public-domain paintings shipped inside the package.

`paintings/manifest.json` names each painting (title, artist, year) and its downscaled copy
next to it (`python -m bot.styles.build` regenerates the copies from `../shared/images`; the
copies are committed, so nothing outside the package is read at run time). Used by `/stylize
style_name:`, `/styles` and any other face (the web playground) that offers the library:

    library() -> tuple[LibraryStyle, ...]        # in the manifest's order
    find(name) -> LibraryStyle | None            # by its `name` (case-insensitive)
    search(typed, limit=25) -> list[LibraryStyle]  # name, title or artist contains `typed`
    style.image_bytes() -> bytes                 # the JPEG; style.image_size() -> (w, h)
    style.blob() -> ImageBlob                    # ready for `store.submit(..., styles=...)`
"""

from __future__ import annotations

import importlib.resources
import io
import json
from dataclasses import dataclass
from functools import cache

from bot.store.types import ImageBlob

PAINTINGS = "paintings"
MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class LibraryStyle:
    """One painting of the library, as the manifest describes it."""

    name: str  # stable id, used as the `style_name` option's value
    title: str
    artist: str
    year: str  # text: some dates are approximate ("c. 1831")
    file: str  # the downscaled copy, in `paintings/`
    source: str  # the original's file name in ../shared/images (for the build script only)

    @property
    def label(self) -> str:
        """How the painting is named to people: "The Scream — Edvard Munch, 1893"."""
        return f"{self.title} — {self.artist}, {self.year}"

    def image_bytes(self) -> bytes:
        """The bundled JPEG copy of the painting."""
        return _read(self.file)

    def image_size(self) -> tuple[int, int]:
        """(width, height) of the bundled copy, read from its JPEG header."""
        return _jpeg_size(self.file)

    def blob(self) -> ImageBlob:
        """The painting as a job's style input. No source user: a bundled painting is
        nobody's upload, so the job counts it as its owner's (for `/forget`)."""
        width, height = self.image_size()
        return ImageBlob(self.image_bytes(), "jpeg", width, height)

    def matches(self, typed: str) -> bool:
        """Whether `typed` (any case) occurs in the name, title or artist."""
        needle = typed.strip().lower()
        return not needle or any(needle in s.lower() for s in (self.name, self.title, self.artist))


def _read(file: str) -> bytes:
    return (importlib.resources.files(__name__) / PAINTINGS / file).read_bytes()


@cache
def _jpeg_size(file: str) -> tuple[int, int]:
    from PIL import Image  # only the faces that show or submit a painting need Pillow

    with Image.open(io.BytesIO(_read(file))) as img:
        return img.size


@cache
def library() -> tuple[LibraryStyle, ...]:
    """Every painting of the library, in the manifest's order (read once)."""
    raw = json.loads(_read(MANIFEST))
    return tuple(LibraryStyle(**entry) for entry in raw["styles"])


def find(name: str) -> LibraryStyle | None:
    """The painting called `name` (its `name` field, case-insensitive), or None."""
    wanted = name.strip().lower()
    return next((s for s in library() if s.name == wanted), None)


def search(typed: str, limit: int = 25) -> list[LibraryStyle]:
    """Paintings whose name, title or artist contains `typed`, at most `limit`."""
    return [s for s in library() if s.matches(typed)][:limit]
