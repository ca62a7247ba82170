"""Self-tests of the manual-run surface: the CLI and the /_fake/ control endpoints."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.fakediscord import FakeDiscord, redirect_discord_py, run_bot
from tests.fakediscord.sample_bot import make_bot, png

pytestmark = pytest.mark.timeout(30)
ROOT = Path(__file__).resolve().parents[2]


async def test_cli_prints_urls_and_serves_until_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakediscord", "--print-urls", "--token", "cli-token",
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        exports = {}
        assert proc.stdout is not None
        while line := (await asyncio.wait_for(proc.stdout.readline(), 15)).decode().strip():
            key, _, value = line.removeprefix("export ").partition("=")
            exports[key] = value
        assert exports["DISCORD_API_BASE"].endswith("/api/v10")
        assert exports["DISCORD_GATEWAY_URL"].startswith("ws://127.0.0.1:")
        headers = {"Authorization": "Bot cli-token"}
        async with aiohttp.ClientSession() as http:
            async with http.get(exports["DISCORD_API_BASE"] + "/users/@me", headers=headers) as r:
                assert r.status == 200 and (await r.json())["bot"] is True
            async with http.get(exports["FAKE"] + "/_fake/calls") as r:
                assert [c["path"] for c in await r.json()] == ["/users/@me"]
    finally:
        proc.terminate()
        _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()


async def test_control_endpoints_drive_a_bot() -> None:
    async with FakeDiscord(control=True) as fake:
        with redirect_discord_py(fake):
            bot = make_bot()
            async with run_bot(bot, fake), aiohttp.ClientSession() as http:
                base = fake.http_base + "/_fake"
                url = base + "/attachments?filename=a.png&content_type=image/png"
                async with http.post(url, data=png()) as r:
                    att = await r.json()
                body = {"name": "echo", "options": {"image": {"attachment": att["id"]}}}
                async with http.post(base + "/slash", json=body) as r:
                    iid = (await r.json())["interaction_id"]
                msg = await fake.wait_until(
                    lambda: fake.original(iid).custom_ids() and fake.original(iid)
                )
                click = {"message_id": msg.id, "custom_id": "echo:invert", "user": "bob"}
                async with http.post(base + "/click", json=click) as r:
                    assert r.status == 200
                await fake.wait_until(lambda: msg.content == "inverted by bob")
                async with http.post(base + "/click", json={**click, "custom_id": "x"}) as r:
                    assert r.status == 400 and "no component" in (await r.json())["error"]
                async with http.get(base + "/messages") as r:
                    assert msg.id in [m["id"] for m in await r.json()]
    assert fake.original(iid).file(0) == png()  # type: ignore[union-attr]
