"""/stylize through the fake Discord with the real store; the "executor" here is the test,
driving the store's executor API, so the bot side is exercised deterministically."""

from __future__ import annotations

import io

from PIL import Image

from bot.store import JobStatus
from tests import badimages


def png(size=(64, 48)) -> bytes:
    return badimages.png(badimages.photo(size))


async def submit(env, user=None, **options):
    fake = env.fake
    content = fake.add_attachment(png(), "cat.png", "image/png")
    style = fake.add_attachment(png((48, 64)), "style.png", "image/png")
    iid = await fake.slash("stylize", {"content": content, "style": style, **options}, user=user)
    return iid


async def queued_card(env, iid):
    return await env.fake.wait_until(
        lambda: (m := env.fake.original(iid)) is not None and "queued" in m.content and m
    )


async def test_stylize_defers_queues_and_shows_cancel(env):
    iid = await submit(env)
    msg = await queued_card(env, iid)
    inter = env.fake.interaction(iid)
    assert inter.acked_type == 5
    assert "Position **1**" in msg.content
    jobs = await env.store.active_jobs()
    assert len(jobs) == 1
    assert msg.custom_ids() == [f"nst:cancel:{jobs[0].id}"]
    assert jobs[0].interaction is not None and jobs[0].interaction.token
    assert jobs[0].params.size == 64 and jobs[0].params.preset == "fast"


async def test_progress_edits_and_result_delivery(env):
    iid = await submit(env)
    await queued_card(env, iid)
    claimed = await env.store.claim("w1")
    job_id = claimed.job.id
    preview = badimages.png(badimages.photo((32, 24)))
    await env.store.report_progress(
        job_id, "w1", scale=1, scales=2, step=10, total=40, eta_s=12.0, preview_jpeg=None
    )
    await env.fake.wait_until(lambda: "25%" in env.fake.original(iid).content)
    await env.store.report_progress(
        job_id,
        "w1",
        scale=2,
        scales=2,
        step=30,
        total=40,
        eta_s=3.0,
        preview_jpeg=preview,
        preview_size=(32, 24),
    )
    await env.fake.wait_until(lambda: "75%" in env.fake.original(iid).content, timeout=5)
    assert env.fake.original(iid).attachments  # the preview image
    result = Image.new("RGB", (64, 48), (10, 200, 30))
    buf = io.BytesIO()
    result.save(buf, format="PNG")
    await env.store.complete(job_id, "w1", buf.getvalue(), 64, 48, 1.5, notes=["test note"])
    final = await env.fake.wait_until(
        lambda: (m := env.fake.original(iid)) and "ready" in m.text() and m
    )
    data = final.file(0)
    assert Image.open(io.BytesIO(data)).size == (64, 48)
    assert sorted(final.custom_ids()) == sorted(
        [f"nst:rerun:{job_id}:{v}" for v in ("stronger", "weaker", "colours", "larger")]
        + [f"nst:delete:{job_id}:{claimed.job.owner_id}"]
    )
    job = await env.store.get_job(job_id)
    assert job.status == JobStatus.SUCCEEDED
    await env.fake.wait_until(
        lambda: env.bot.watcher.deliveries.get("interaction") == 1, timeout=10
    )
    job = await env.store.get_job(job_id)
    assert job.delivered_via == "interaction"
