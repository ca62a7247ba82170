"""The bundled style library: seven public-domain paintings inside the package, small, with
their title, artist and year, and present in a built wheel (nothing read from ../shared)."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from bot import styles as library
from bot.styles.build import LONG_SIDE, MAX_KB, MIN_QUALITY, downscale

ROOT = Path(__file__).resolve().parents[3]
SHARED = ROOT.parent / "shared" / "images"


def test_seven_paintings_with_title_artist_and_year():
    paintings = library.library()
    assert len(paintings) == 7
    assert len({p.name for p in paintings}) == 7 and len({p.file for p in paintings}) == 7
    for p in paintings:
        assert p.title and p.artist and p.year[-4:].isdigit(), p
        data = p.image_bytes()
        assert len(data) <= MAX_KB * 1024, (p.file, len(data))
        with Image.open(io.BytesIO(data)) as img:
            assert img.format == "JPEG" and img.mode == "RGB"
            assert max(img.size) == LONG_SIDE and img.size == p.image_size()
    starry = library.find("Starry-Night")
    assert starry is not None and starry.label == "The Starry Night — Vincent van Gogh, 1889"
    assert library.find("mona-lisa") is None


def test_search_matches_name_title_or_artist():
    assert [p.name for p in library.search("munch")] == ["the-scream"]
    assert [p.name for p in library.search("KANAGAWA")] == ["great-wave"]
    assert [p.name for p in library.search("composition")] == ["composition-vii"]
    assert len(library.search("")) == 7 and len(library.search("", limit=3)) == 3


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/images is not here")
def test_the_build_script_makes_the_committed_copies(tmp_path: Path):
    from bot.styles.build import QUALITY, build

    lines = build(SHARED, tmp_path, side=LONG_SIDE, quality=QUALITY, max_kb=MAX_KB)
    assert len(lines) == 7
    for p in library.library():
        made = (tmp_path / p.file).read_bytes()
        with Image.open(io.BytesIO(made)) as img:
            assert img.size == p.image_size()
        assert made == p.image_bytes(), f"{p.file} differs: run `python -m bot.styles.build`"


def test_downscale_lowers_the_quality_until_the_copy_fits():
    noisy = Image.effect_noise((900, 700), 120).convert("RGB")
    buf = io.BytesIO()
    noisy.save(buf, "PNG")
    data, roomy = buf.getvalue(), 10**9
    best = len(downscale(data, side=512, quality=95, max_bytes=roomy))
    worst = len(downscale(data, side=512, quality=MIN_QUALITY, max_bytes=roomy))
    cap = (best + worst) // 2
    out = downscale(data, side=512, quality=95, max_bytes=cap)
    with Image.open(io.BytesIO(out)) as img:
        assert img.size == (512, 398) and img.format == "JPEG"
    assert worst <= len(out) <= cap < best


@pytest.mark.slow
def test_a_built_wheel_carries_the_library(tmp_path: Path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("bot", "nst_engine", "migrations"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path / "dist"
    build = "import setuptools.build_meta as b, sys; print(b.build_wheel(sys.argv[1]))"
    subprocess.run([sys.executable, "-c", build, str(out)], cwd=src, check=True, timeout=120)
    (wheel,) = out.glob("*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(site)
    for p in library.library():
        assert f"bot/styles/paintings/{p.file}" in names
    assert "bot/styles/paintings/manifest.json" in names
    # From the unpacked wheel, in an empty directory: no repository, no ../shared.
    check = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(site)!r})
        import bot.styles as lib
        assert lib.__file__.startswith({str(site)!r}), lib.__file__
        print(sum(len(p.image_bytes()) > 0 for p in lib.library()))
        """
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    run = subprocess.run(
        [sys.executable, "-c", check], cwd=empty, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "7"
