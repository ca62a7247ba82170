"""`/healthz` and `/metrics` over real HTTP with a real SQLite store."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from bot.store import ImageBlob, JobParams, Store, migrate
from bot.store.db import create_engine
from bot.web import Metrics, create_app, start_web
from tests import badimages


@pytest.fixture
async def store(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'web.db'}"
    await asyncio.to_thread(migrate, url)
    s = await Store.open(url)
    yield s
    await s.close()


async def serve(app):
    runner, port = await start_web(app, "127.0.0.1", 0)
    return runner, f"http://127.0.0.1:{port}"


async def test_healthz_needs_an_executor_heartbeat(store):
    runner, base = await serve(create_app(store, stale_after_s=20))
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as resp:
                body = await resp.json()
                assert resp.status == 503
                assert body["database"] == "ok"
                assert any("no executor heartbeat" in r for r in body["reasons"])
            await store.heartbeat("w1", host="h", pid=1)
            async with http.get(f"{base}/healthz") as resp:
                body = await resp.json()
                assert resp.status == 200, body
                assert body["executors_online"] == 1 and body["status"] == "ok"
    finally:
        await runner.cleanup()


async def test_healthz_reports_an_unreachable_database():
    # Nothing listens on a port that was just free: every connection attempt is refused.
    # (A broken SQLite path would leave aiosqlite's worker thread posting to the closed loop.)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The constructor does not connect (unlike Store.open), so the failure shows at /healthz.
    broken = Store(create_engine(f"postgresql+psycopg://nst@127.0.0.1:{port}/nst"))
    runner, base = await serve(create_app(broken))
    try:
        async with aiohttp.ClientSession() as http, http.get(f"{base}/healthz") as resp:
            body = await resp.json()
            assert resp.status == 503
            assert body["database"] == "unreachable"
            assert "database unreachable" in body["reasons"][0]
    finally:
        await runner.cleanup()
        await broken.close()


async def test_metrics_expose_queue_status_and_durations(store):
    photo = badimages.png(badimages.photo())
    blob = ImageBlob(photo, "png", 64, 48)
    for owner in (1, 2):
        await store.submit(owner, None, None, blob, [(blob, 1.0)], JobParams(size=64))
    metrics = Metrics()
    claimed = await store.claim("w1")
    await store.report_progress(claimed.job.id, "w1", scale=1, scales=1, step=30, total=30, eta_s=0)
    await store.complete(claimed.job.id, "w1", photo, 64, 48, 3.0)
    done = await store.get_job(claimed.job.id)
    metrics.observe_job(done)
    metrics.observe_job(replace(done, elapsed_s=None))  # no time recorded: no observation
    runner, base = await serve(create_app(store, metrics=metrics))
    try:
        async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as resp:
            assert resp.status == 200
            text = await resp.text()
    finally:
        await runner.cleanup()
    assert "nst_queue_depth 1.0" in text
    assert 'nst_jobs{status="succeeded"} 1.0' in text
    assert 'nst_jobs{status="queued"} 1.0' in text
    assert "nst_job_duration_seconds_count 1.0" in text
    assert "nst_engine_steps_per_second 10.0" in text
    assert "nst_executors_online 1.0" in text
