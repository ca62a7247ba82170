"""Settling web jobs (`bot.webui.settling`): a finished browser's job is recorded as delivered
("none": nothing to post), also when it finished while no web face was running."""

from __future__ import annotations

import asyncio

from bot.settings import Settings
from bot.store import DeliveryState, Store
from bot.webui.settling import Settler
from tests.bot.store.conftest import db_url, store  # noqa: F401  (SQLite and PostgreSQL)
from tests.bot.store.helpers import submit
from tests.bot.webui.conftest import web_settings

WEB_OWNER = -12345


async def wait_for(check, *, rounds: int = 200):
    for _ in range(rounds):  # bounded: about 10 s at most
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("not settled")


async def test_jobs_that_finished_while_no_web_face_ran_are_settled(make_web, tmp_path, sqlite_url):
    settings: Settings = web_settings(tmp_path, sqlite_url)
    before = await Store.from_settings(settings)
    web_job = await submit(before, WEB_OWNER, "web")
    discord_job = await submit(before, 42, "discord", guild=7, channel=8)
    for job_id in (web_job, discord_job):
        claimed = await before.claim("w1")
        assert claimed is not None and claimed.job.id == job_id
        assert await before.complete(job_id, "w1", b"result-" + bytes([job_id]), 8, 8, 1.0)
    await before.close()  # the web face comes up only now (a restart)

    web, new_client = await make_web()
    client = await new_client()

    async def settled():
        job = await web.get_job(web_job)
        return job if job and job.delivery.state == DeliveryState.DELIVERED else None

    job = await wait_for(settled)
    assert job.delivered_via == "none" and job.delivered_message_id is None
    # The Discord user's job is left to the Discord side's delivery.
    other = await web.get_job(discord_job)
    assert other is not None and other.delivery.state == DeliveryState.PENDING
    # The metrics heard of it once.
    metrics = await (await client.get("/metrics")).text()
    assert 'nst_jobs_finished_total{status="succeeded"} 1.0' in metrics


async def test_a_sweep_settles_web_jobs_only_and_each_once(store: Store):  # noqa: F811
    web_jobs = [await submit(store, WEB_OWNER - n, f"web{n}") for n in range(3)]
    discord_job = await submit(store, 42, "discord", guild=7, channel=8)
    for _ in range(4):
        claimed = await store.claim("w1")
        assert claimed is not None
        assert await store.complete(claimed.job.id, "w1", b"r" + bytes([claimed.job.id]), 8, 8, 1.0)
    seen: list[int] = []
    first, second = Settler(store, on_finished=lambda job: seen.append(job.id)), Settler(store)
    first.holder, second.holder = "web:a", "web:b"  # two bot processes' web faces
    assert await first.sweep() == 3
    assert await second.sweep() == 0  # nothing left: each job is settled by one of them
    assert sorted(seen) == sorted(web_jobs)
    for job_id in web_jobs:
        job = await store.get_job(job_id)
        assert job is not None and job.delivery.state == DeliveryState.DELIVERED
    other = await store.get_job(discord_job)
    assert other is not None and other.delivery.state == DeliveryState.PENDING
