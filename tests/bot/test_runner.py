"""The real `nst-bot run` process against the fake Discord, configured only through settings
(DISCORD_API_BASE / DISCORD_GATEWAY_URL), doing a real tiny /stylize, then a clean SIGTERM."""

from __future__ import annotations

import io
from pathlib import Path

import aiohttp
import pytest
from PIL import Image, ImageChops

from tests.bot.botproc import bot_process
from tests.fakediscord import FakeDiscord

pytestmark = pytest.mark.slow


async def test_nst_bot_run_against_fake_discord(tmp_path: Path, fixture_images: Path):
    async with (
        FakeDiscord() as fake,
        bot_process(
            fake,
            tmp_path,
            EXECUTORS="1",
            DEFAULT_SIZE="64",
            DEFAULT_PRESET="fast",
            DEVICE="cpu",
            PROGRESS_EDIT_INTERVAL_S="0.5",
            HEARTBEAT_INTERVAL_S="0.5",
            LOG_LEVEL="DEBUG",
        ) as bot,
    ):
        await fake.wait_ready(timeout=60)
        content = fake.add_attachment(
            (fixture_images / "tubingen.jpg").read_bytes(), "tubingen.jpg", "image/jpeg"
        )
        style = fake.add_attachment(
            (fixture_images / "shipwreck.jpg").read_bytes(), "shipwreck.jpg", "image/jpeg"
        )
        iid = await _slash_when_registered(fake, content, style)
        final = await fake.wait_until(
            lambda: (m := fake.original(iid)) and "ready" in m.text() and m, timeout=180
        )
        assert fake.interaction(iid).acked_type == 5  # deferred
        # The response was edited while the job ran (the running card, progress bar).
        assert any("running" in (old.get("content") or "") for old in final.history)
        result = Image.open(io.BytesIO(final.file(0))).convert("RGB")
        assert Image.open(io.BytesIO(final.file(0))).format == "PNG"
        source = Image.open(fixture_images / "tubingen.jpg").convert("RGB")
        assert result.size == (64, round(64 * source.height / source.width))
        diff = ImageChops.difference(result, source.resize(result.size))
        assert max(hi for _, hi in diff.getextrema()) > 40  # stylised, not the input
        title, shown = final.gallery()[0]  # Components V2: the pastiche leads the gallery
        assert title.startswith("Pastiche #") and shown == final.file(0)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{bot.web_base}/healthz") as resp:
                body = await resp.json()
                assert resp.status == 200, body
                assert body["executors_online"] >= 1 and body["discord_ready"] is True
            async with http.get(f"{bot.web_base}/metrics") as resp:
                text = await resp.text()
                assert 'nst_jobs{status="succeeded"} 1.0' in text
                assert "nst_job_duration_seconds_count 1.0" in text
    output = bot.output()
    assert bot.proc.returncode == 0, output[-3000:]
    assert "stopped" in output
    assert fake.token not in output  # the bot token never reaches the logs
    assert fake.interaction(iid).token not in output  # nor interaction tokens (DEBUG logs URLs)


async def _slash_when_registered(fake: FakeDiscord, content, style) -> str:
    await fake.wait_until(lambda: "stylize" in fake.commands, timeout=30)
    return await fake.slash("stylize", {"content": content, "style": style})


async def test_run_without_a_token_serves_the_playground_with_discord_off(tmp_path: Path):
    """No DISCORD_TOKEN: `nst-bot run` says how to connect Discord, prints the playground's
    URL and serves it; /healthz reports Discord off; SIGTERM stops it cleanly."""
    import asyncio
    import os
    import re
    import signal
    import sys

    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    env |= {
        "PYTHONPATH": str(Path(__file__).parents[2]),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'nst.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        "EXECUTORS": "0",
        "WEB_PORT": "0",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=tmp_path, env=env,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(60):
            while not (url := re.search(r"web playground at (http://\S+/)", "".join(seen))):
                line = (await proc.stderr.readline()).decode()
                assert line, f"nst-bot run ended early: {''.join(seen)}"
                seen.append(line)
        assert "Discord is off" in "".join(seen)
        assert "put DISCORD_TOKEN in .env" in "".join(seen)
        async with aiohttp.ClientSession() as http:
            async with http.get(url[1]) as page:
                assert page.status == 200
                assert "<form" in await page.text()
            async with http.get(url[1] + "healthz") as health:
                assert (await health.json())["discord_ready"] == "off"
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(proc.stderr.read(), 30)
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0, "".join(seen) + rest.decode()
