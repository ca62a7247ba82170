"""End to end with the real executor process and the real engine at 64 px `fast`.

The plain happy path through a real executor is `tests/bot/test_runner.py` (the whole
`nst-bot run` process); here the executor is killed mid-job and the job must still finish.
"""

from __future__ import annotations

import os
import signal

import pytest

from bot.executor.supervisor import Supervisor
from bot.store import JobStatus
from tests.bot.discord_bot.test_stylize_flow import queued_card

pytestmark = pytest.mark.slow


@pytest.fixture
async def executor(env):
    sup = Supervisor(
        env.settings, 1, store=env.store, grace_s=5, backoff_base_s=0.2, requeue_interval_s=0.5
    )
    await sup.start()
    yield sup
    await sup.stop()


async def test_killed_executor_job_is_retried_and_delivered(env, executor, fixture_images):
    fake = env.fake
    content = fake.add_attachment(
        (fixture_images / "golden_gate.jpg").read_bytes(), "gg.jpg", "image/jpeg"
    )
    style = fake.add_attachment(
        (fixture_images / "the_scream.jpg").read_bytes(), "scream.jpg", "image/jpeg"
    )
    iid = await fake.slash("stylize", {"content": content, "style": style})
    await queued_card(env, iid)

    async def running():
        jobs = await env.store.active_jobs()
        return jobs and jobs[0].status == JobStatus.RUNNING and jobs[0]

    job = await fake.wait_until(running, timeout=120, what="the job to start")
    pid = executor.pids()[0]
    os.kill(pid, signal.SIGKILL)
    final = await fake.wait_until(
        lambda: (m := fake.original(iid)) and ("ready" in m.text() or "failed" in m.text()) and m,
        timeout=180,
    )
    assert "ready" in final.text(), final.text()
    done = await env.store.get_job(job.id)
    assert done.attempts >= 2 and done.crashes >= 1
    assert executor.restarts >= 1
