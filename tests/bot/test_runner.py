"""The real `nst-bot run` process against the fake Discord, configured only through settings
(DISCORD_API_BASE / DISCORD_GATEWAY_URL), doing a real tiny /stylize, then a clean SIGTERM."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
from PIL import Image, ImageChops

from tests.fakediscord import FakeDiscord

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_nst_bot_run_against_fake_discord(tmp_path: Path, fixture_images: Path):
    port = free_port()
    async with FakeDiscord() as fake:
        env = {
            **os.environ,
            **fake.env(),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'nst.db'}",
            "DATA_DIR": str(tmp_path / "data"),
            "EXECUTORS": "1",
            "WEB_PORT": str(port),
            "DEFAULT_SIZE": "64",
            "DEFAULT_PRESET": "fast",
            "DEVICE": "cpu",
            "PROGRESS_EDIT_INTERVAL_S": "0.5",
            "HEARTBEAT_INTERVAL_S": "0.5",
            "COOLDOWN_S": "0",
            "LOG_LEVEL": "DEBUG",
        }
        log_path = tmp_path / "run.log"
        with log_path.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                cwd=tmp_path,
                env=env,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
            fake.watch(proc)
            try:
                await fake.wait_ready(timeout=60)
                content = fake.add_attachment(
                    (fixture_images / "tubingen.jpg").read_bytes(), "tubingen.jpg", "image/jpeg"
                )
                style = fake.add_attachment(
                    (fixture_images / "shipwreck.jpg").read_bytes(), "shipwreck.jpg", "image/jpeg"
                )
                iid = await _slash_when_registered(fake, content, style)
                final = await fake.wait_until(
                    lambda: (m := fake.original(iid)) and "ready" in m.content and m, timeout=180
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
                assert "Pastiche #" in final.embeds[0]["title"]
                async with aiohttp.ClientSession() as http:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        body = await resp.json()
                        assert resp.status == 200, body
                        assert body["executors_online"] >= 1 and body["discord_ready"] is True
                    async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                        text = await resp.text()
                        assert 'nst_jobs{status="succeeded"} 1.0' in text
                        assert "nst_job_duration_seconds_count 1.0" in text
            finally:
                fake._watched.clear()  # the process ending from here on is expected
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(proc.wait(), 60)
    output = log_path.read_text()
    assert code == 0, output[-3000:]
    assert "stopped" in output
    assert fake.token not in output  # the bot token never reaches the logs
    assert fake.interaction(iid).token not in output  # nor interaction tokens (DEBUG logs URLs)


async def _slash_when_registered(fake: FakeDiscord, content, style) -> str:
    await fake.wait_until(lambda: "stylize" in fake.commands, timeout=30)
    return await fake.slash("stylize", {"content": content, "style": style})
