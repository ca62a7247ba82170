"""The gallery in a real browser (Debian's Chromium through Playwright, as the playground's
test): a server's page shows its public job, not a private one nor another server's; every
thumbnail loads; a card opens the job's page; no page logs a JavaScript error; a server
without the gallery gets the 404 page.

With NST_WEBUI_SCREENSHOTS=<folder> it saves `webui-gallery.png` there (docs/ holds the
README's); then the cards show real pastiches: the README's example and two more made here
with the engine's CLI at 128 px (minutes on a CPU).
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.store import ImageBlob, JobParams, Store
from bot.web import create_app, start_web
from tests.bot.webui.browser import browser_page, generated_png, save_small
from tests.bot.webui.conftest import web_settings

pytestmark = pytest.mark.slow

GUILD, OTHER, OFF = 91 << 22, 92 << 22, 93 << 22
DOCS = Path(__file__).parents[3] / "docs"
# (content, style, pastiche or None: make it with the CLI) for the screenshot's cards.
SHOWCASE = [
    ("tubingen.jpg", "starry_night.jpg", DOCS / "example-tubingen-starry-night.jpg"),
    ("golden_gate.jpg", "the_scream.jpg", None),
    ("shipwreck.jpg", "woman-with-hat-matisse.jpg", None),
]
README_EXAMPLE = {"size": 512, "preset": "standard"}  # how docs/example-… was made


def blob(data: bytes) -> ImageBlob:
    with Image.open(io.BytesIO(data)) as img:
        return ImageBlob(data, (img.format or "png").lower(), img.width, img.height)


async def add_job(
    store: Store,
    owner: int,
    guild: int,
    content: bytes,
    style: bytes,
    result: bytes,
    *,
    private: bool = False,
    size: int = 128,
    preset: str = "fast",
) -> int:
    """A succeeded job with these images (the result as if an executor made it)."""
    params = JobParams(size=size, preset=preset, private=private)
    job = await store.submit(owner, guild, 5, blob(content), [(blob(style), 1.0)], params)
    claimed = await store.claim("w1")
    assert claimed is not None and claimed.job.id == job.id
    shown = blob(result)
    assert await store.complete(job.id, "w1", result, shown.width, shown.height, 4.2)
    return job.id


def made_with_the_engine(content: Path, style: Path, out: Path) -> bytes:
    command = [sys.executable, "-m", "nst_engine.cli", str(content), str(style)]
    command += ["-o", str(out), "--size", "128", "--preset", "fast", "-q"]
    subprocess.run(
        command,
        check=True,
        timeout=900,
    )
    return out.read_bytes()


async def showcase(store: Store, images: Path, tmp: Path) -> list[int]:
    ids = []
    for n, (content, style, pastiche) in enumerate(SHOWCASE):
        c, s = images / content, images / style
        made: dict[str, Any] = {}
        if pastiche is None:
            result = await asyncio.to_thread(made_with_the_engine, c, s, tmp / f"p{n}.png")
        else:
            result, made = pastiche.read_bytes(), README_EXAMPLE
        job = await add_job(store, 10 + n, GUILD, c.read_bytes(), s.read_bytes(), result, **made)
        ids.append(job)
    return ids


async def images_loaded(page, rounds: int = 100) -> None:
    """Wait until every image of the page has loaded (page.evaluate: the pages' CSP forbids
    the string evaluation `wait_for_function` uses)."""
    check = "[...document.images].every(i => i.complete && i.naturalWidth > 0)"
    for _ in range(rounds):
        if await page.evaluate(check):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("an image of the page did not load")


async def test_the_gallery_in_chromium(tmp_path: Path, sqlite_url: str, fixture_images: Path):
    shots = os.environ.get("NST_WEBUI_SCREENSHOTS")
    settings = web_settings(tmp_path, sqlite_url, max_size=512)  # the README example: 512 px
    store = await Store.from_settings(settings)
    photo, style = generated_png("photo"), generated_png("style")
    await store.set_gallery(GUILD, True)
    await store.set_gallery(OTHER, True)
    if shots:  # real pastiches only, for the README
        public = await showcase(store, fixture_images, tmp_path)
    else:
        public = [await add_job(store, 1, GUILD, photo, style, generated_png("style"))]
    private = await add_job(store, 2, GUILD, photo, style, photo, private=True)
    elsewhere = await add_job(store, 3, OTHER, photo, style, photo)
    await add_job(store, 4, OFF, photo, style, photo)  # gallery never turned on
    runner, port = await start_web(create_app(store, settings=settings), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{port}"
    try:
        async with browser_page(1000, 760) as (page, problems):
            await page.goto(f"{base}/g/{GUILD}")
            assert await page.title() == "Gallery · nst-bot"
            cards = page.locator("li.card")
            shown = [
                int(await cards.nth(i).get_attribute("data-job") or 0)
                for i in range(await cards.count())
            ]
            assert sorted(shown) == sorted(public)
            assert private not in shown and elsewhere not in shown
            await images_loaded(page)
            if shots:
                save_small(await page.screenshot(full_page=True), Path(shots) / "webui-gallery.png")

            # A card opens the job's page with the pastiche.
            await page.click(f'li.card[data-job="{public[0]}"] a >> nth=0')
            await page.wait_for_url(f"**/g/{GUILD}/{public[0]}")
            assert await page.title() == f"Pastiche #{public[0]} · nst-bot"
            await images_loaded(page)
            await page.click("text=Back to the gallery")
            await page.wait_for_url(f"**/g/{GUILD}")

            # The other server's gallery has its own job only.
            await page.goto(f"{base}/g/{OTHER}")
            others = page.locator("li.card")
            assert await others.count() == 1
            assert await others.first.get_attribute("data-job") == str(elsewhere)

            # A server without the gallery: the 404 page (its document's 404 is the one
            # console message a browser logs there, so it is read apart from the others).
            before = len(problems)
            response = await page.goto(f"{base}/g/{OFF}")
            assert response is not None and response.status == 404
            assert "There is no gallery page here." in await page.inner_text("main")
            extra = problems[before:]
            del problems[before:]
            problems += [p for p in extra if "status of 404" not in p]
        assert problems == [], problems
    finally:
        await runner.cleanup()
        await store.close()
