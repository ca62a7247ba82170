"""Real-browser plumbing for the web tests: Debian's Chromium driven by Playwright (never a
downloaded browser). Without Chromium (or Playwright) a test fails where NST_REQUIRE_BROWSER=1
(CI, set by .ci/run) and is skipped elsewhere."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REQUIRE_BROWSER = os.environ.get("NST_REQUIRE_BROWSER") == "1"


def _browser_or_skip() -> Any:
    problem = None
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        problem, async_playwright = "Playwright for Python is not installed (dev extra)", None
    if problem is None and not CHROMIUM.exists():
        problem = f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)"
    if problem:
        if REQUIRE_BROWSER:
            pytest.fail(f"NST_REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(problem)
    return async_playwright


@asynccontextmanager
async def browser_page(width: int, height: int) -> AsyncIterator[tuple[Any, list[str]]]:
    """A page of a fresh headless Chromium, and the list that collects every JavaScript
    error and console error its pages log (a test asserts it stays empty)."""
    async_playwright = _browser_or_skip()
    problems: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(viewport={"width": width, "height": height})
            page.on(
                "console",
                lambda msg: (
                    problems.append(f"console {msg.type}: {msg.text}")
                    if msg.type == "error"
                    else None
                ),
            )
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            yield page, problems
        finally:
            await browser.close()


def generated_png(kind: str) -> bytes:
    """A small photo-like gradient, or a stripy 'painting'."""
    if kind == "photo":
        img = Image.new("RGB", (96, 72))
        img.putdata([(x * 255 // 96, y * 255 // 72, 140) for y in range(72) for x in range(96)])
        img.paste((240, 200, 40), (30, 20, 60, 50))
    else:
        img = Image.new("RGB", (64, 64))
        img.putdata(
            [
                ((x * 40) % 256, (y * 25 + x * 9) % 256, ((x + y) * 17) % 256)
                for y in range(64)
                for x in range(64)
            ]
        )
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def save_small(png: bytes, path: Path) -> None:
    """Screenshots for the README: quantised to 128 colours, a few tens of KB."""
    img = Image.open(io.BytesIO(png)).convert("RGB").quantize(128)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG", optimize=True)
