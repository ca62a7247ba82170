"""The playground in a real browser: Debian's Chromium driven by Playwright (never a downloaded
browser), against the real web app on 127.0.0.1, a real SQLite store and a REAL executor process.

Uploads two small generated images at 64 px `fast`, watches the queue/progress and a preview
appear, downloads the result (a PNG); an invalid upload shows the clear error; no page logs a
JavaScript error. Without Chromium (or Playwright) the test fails where NST_REQUIRE_BROWSER=1
(CI, set by .ci/run) and is skipped elsewhere. With NST_WEBUI_SCREENSHOTS=<folder> it saves the
screenshots of the playground and of the finished job page there (docs/ holds the README's).
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from bot.store import Store
from bot.web import create_app, start_web
from tests.bot.executor.conftest import Cluster, ExecutorProc, executor_env
from tests.bot.webui.browser import browser_page, generated_png, save_small
from tests.bot.webui.conftest import web_settings

pytestmark = pytest.mark.slow

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# `nst-bot executor`, slowed down for human-speed watching: a 64 px `fast` job takes 2-5 s on
# a CPU, about as long as the page's 1 s polls and the executor's 1 s progress writes, so its
# progress and its one preview (every 3 s) could come and go unseen. Here every engine step
# waits 0.15 s (about 5 s more over 30 steps) and previews come every 0.5 s.
EXECUTOR_MAIN = """
import sys
import time
import bot.executor.job_run as job_run
from bot.executor.progress import ProgressRelay
job_run.PREVIEW_INTERVAL_S = 0.5
step = ProgressRelay.__call__
def slow_step(self, progress):
    time.sleep(0.15)
    return step(self, progress)
ProgressRelay.__call__ = slow_step
from bot.cli import main
sys.exit(main(["executor", *sys.argv[1:]]))
"""


def spawn_executor(cluster: Cluster, worker_id: str) -> ExecutorProc:
    log_path = cluster.workdir / f"{worker_id}.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", EXECUTOR_MAIN, "--worker-id", worker_id],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=executor_env(cluster.url),
            cwd=cluster.workdir,  # keep the repo's .env out of the child's settings
        )
    executor = ExecutorProc(worker_id, proc, log_path)
    cluster.procs.append(executor)
    return executor


async def test_playground_in_chromium_with_a_real_executor(tmp_path: Path, sqlite_url: str):
    shots = os.environ.get("NST_WEBUI_SCREENSHOTS")
    settings = web_settings(tmp_path, sqlite_url, per_user_queue_limit=3)
    store = await Store.from_settings(settings)
    runner, port = await start_web(create_app(store, settings=settings), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{port}"
    cluster = Cluster(sqlite_url, tmp_path)
    spawn_executor(cluster, "web-exec-1")
    try:
        async with browser_page(1000, 720) as (page, problems):
            await page.goto(f"{base}/")
            assert await page.title() == "Playground · nst-bot"
            if shots:
                save_small(
                    await page.screenshot(full_page=True), Path(shots) / "webui-playground.png"
                )

            # An invalid upload: the page says why, in /stylize's words.
            await page.set_input_files(
                "input[name=content]",
                {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a picture\n"},
            )
            await page.set_input_files(
                "input[name=style]",
                {"name": "style.png", "mimeType": "image/png", "buffer": generated_png("style")},
            )
            await page.click("#go")
            error = page.locator("#error")
            await error.wait_for(timeout=10_000)
            text = await error.inner_text()
            assert "The content attachment notes.txt is not an image (it's text/plain)" in text
            assert (await store.stats()).queued == 0

            # Two good images at 64 px, fast.
            await page.set_input_files(
                "input[name=content]",
                {"name": "photo.png", "mimeType": "image/png", "buffer": generated_png("photo")},
            )
            await page.set_input_files(
                "input[name=style]",
                {"name": "style.png", "mimeType": "image/png", "buffer": generated_png("style")},
            )
            await page.fill("input[name=size]", "64")
            await page.select_option("select[name=preset]", "fast")
            await page.click("#go")
            await page.wait_for_url("**/jobs/*", timeout=15_000)
            job_id = int(page.url.rsplit("/", 1)[1])
            # Count every preview the page actually loads (between two of our looks, too).
            await page.evaluate(
                "window.previewsLoaded = 0; document.getElementById('preview')"
                ".addEventListener('load', () => { window.previewsLoaded += 1; })"
            )

            # Watch the page (its own polling updates it) until the result is shown.
            seen: list[str] = []
            preview_seen = progress_seen = False
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                status = await page.locator("#status").inner_text()
                if not seen or seen[-1] != status:
                    seen.append(status)
                if await page.locator("#preview-box").is_visible():
                    preview_seen = preview_seen or await page.evaluate(
                        "document.getElementById('preview').naturalWidth > 0"
                    )
                if await page.locator("#bar").is_visible():
                    progress_seen = (
                        progress_seen
                        or int(await page.locator("#bar").get_attribute("value") or 0) > 0
                    )
                if await page.locator("#result-box").is_visible():
                    break
                await asyncio.sleep(0.2)
            else:
                pytest.fail(f"no result within 240 s; statuses: {seen}\n{cluster.logs()}")
            print("statuses seen:", seen)
            assert any(s.startswith(("Queued", "Running")) for s in seen), seen
            assert any("Running: step" in s for s in seen), seen
            assert progress_seen, seen
            loaded = await page.evaluate("window.previewsLoaded")
            assert preview_seen or loaded, f"no preview was shown; statuses: {seen}"
            assert (await page.locator("#status").inner_text()).startswith("Done"), seen
            await page.wait_for_function(
                "document.getElementById('result').complete && "
                "document.getElementById('result').naturalWidth > 0"
            )
            assert await page.evaluate("document.getElementById('result').naturalWidth") == 64
            assert await page.locator("#cancel").is_hidden()

            async with page.expect_download() as info:
                await page.click("#download")
            download = await info.value
            assert download.suggested_filename == f"pastiche-{job_id}.png"
            data = await asyncio.to_thread(Path(await download.path()).read_bytes)
            assert data.startswith(PNG_MAGIC)
            assert Image.open(io.BytesIO(data)).size == (64, 48)
            if shots:
                save_small(await page.screenshot(full_page=True), Path(shots) / "webui-job.png")

            # A fresh load of the finished page (server-rendered, no polling) is clean too.
            await page.reload()
            assert await page.locator("#result-box").is_visible()
        assert problems == [], problems
        job = await store.get_job(job_id)
        assert job.status.value == "succeeded" and job.owner_id < 0
    finally:
        cluster.stop_all()
        await runner.cleanup()
        await store.close()
