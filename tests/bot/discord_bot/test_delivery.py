"""Delivery never loses a result: expired tokens, closed channels, closed DMs, restarts."""

from __future__ import annotations

import io

from PIL import Image

from bot.discord_bot.uploads import fit_upload
from bot.store.types import DeliveryState
from tests.bot.discord_bot.conftest import BotEnv, started_bot
from tests.bot.discord_bot.test_buttons import result_png
from tests.bot.discord_bot.test_commands import answer
from tests.bot.discord_bot.test_stylize_flow import queued_card, submit


async def run_one(env):
    claimed = await env.store.claim("w1")
    await env.store.complete(claimed.job.id, "w1", result_png(), 64, 48, 0.1)
    return claimed.job.id


async def queued_with_expired_token(env) -> str:
    """A queued job whose interaction token has expired, so delivery must fall back."""
    iid = await submit(env)
    await queued_card(env, iid)
    env.fake.expire_token(env.fake.interaction(iid).token)
    return iid


async def test_expired_token_falls_back_to_channel_with_mention(env):
    fake = env.fake
    await queued_with_expired_token(env)
    job_id = await run_one(env)
    msg = await fake.wait_until(lambda: [m for m in fake.channel_messages() if "ready" in m.text()])
    assert f"<@{fake.alice['id']}>" in msg[0].text()
    assert msg[0].file(0).startswith(b"\x89PNG")
    assert f"nst:rerun:{job_id}:larger" in msg[0].custom_ids()
    assert [c for c in fake.calls if c.status == 401 and c.error_code == 50027]
    await fake.wait_until(lambda: env.bot.watcher.deliveries.get("channel"), timeout=10)
    job = await env.store.get_job(job_id)
    assert job.delivered_via == "channel" and job.delivered_message_id == int(msg[0].id)


async def test_closed_channel_falls_back_to_dm(env):
    fake = env.fake
    await queued_with_expired_token(env)
    fake.forbid_channel(fake.channel_id)
    job_id = await run_one(env)
    dms = await fake.wait_until(lambda: fake.dm_messages(fake.alice))
    assert f"#{job_id}" in dms[0].text() and dms[0].file(0).startswith(b"\x89PNG")
    await fake.wait_until(lambda: env.bot.watcher.deliveries.get("dm"), timeout=10)
    assert (await env.store.get_job(job_id)).delivered_via == "dm"


async def test_nowhere_to_deliver_is_undeliverable_with_its_reason(env):
    fake = env.fake
    await queued_with_expired_token(env)
    fake.forbid_channel(fake.channel_id)
    fake.close_dms(fake.alice)
    job_id = await run_one(env)
    await fake.wait_until(lambda: env.bot.watcher.outcomes.get("undeliverable"), timeout=10)
    job = await env.store.get_job(job_id)
    assert job.delivery.state == DeliveryState.UNDELIVERABLE and job.delivered_at is None
    assert "channel refused (403, code 50001)" in job.delivery.error
    assert "DM refused (403, code 50007)" in job.delivery.error
    assert job.delivery.attempts == 1  # refusals for good are not retried
    posts = len(fake.find("POST", r"/channels/\d+/messages"))
    shown = await answer(fake, await fake.slash("job", {"job_id": job_id}), "Delivery")
    assert "Could not be delivered" in shown.text() and "DM refused" in shown.text()
    assert len(fake.find("POST", r"/channels/\d+/messages")) == posts  # nothing retried


async def test_failed_job_reports_its_reason(env):
    fake = env.fake
    iid = await submit(env)
    await queued_card(env, iid)
    claimed = await env.store.claim("w1")
    await env.store.fail(claimed.job.id, "w1", "out_of_memory", "The GPU ran out of memory.")
    msg = await fake.wait_until(lambda: (m := fake.original(iid)) and "failed" in m.content and m)
    assert "ran out of memory" in msg.content
    assert msg.custom_ids() == []


async def test_restart_mid_job_delivers_after_restart(fake_discord, store, settings):
    fake = fake_discord
    async with started_bot(fake, store, settings) as bot:
        env = BotEnv(fake, bot, store, settings)
        iid = await submit(env)
        await queued_card(env, iid)
        claimed = await store.claim("w1")
    # The bot is down while the job finishes.
    await store.complete(claimed.job.id, "w1", result_png(), 64, 48, 0.1)
    pending = await store.get_job(claimed.job.id)
    assert pending.delivery.state == DeliveryState.PENDING and pending.delivery.attempts == 0
    async with started_bot(fake, store, settings) as bot:
        final = await fake.wait_until(
            lambda: (m := fake.original(iid)) and "ready" in m.text() and m
        )
        assert final.file(0).startswith(b"\x89PNG")
        await fake.wait_until(lambda: bot.watcher.deliveries.get("interaction"), timeout=10)


async def test_progress_edits_are_coalesced_and_rate_limits_handled(env):
    fake = env.fake
    fake.rate_limit("PATCH", r"/webhooks/.*/messages/@original", limit=2, window_s=1.0)
    iid = await submit(env)
    await queued_card(env, iid)
    claimed = await env.store.claim("w1")
    for step in range(1, 41):
        await env.store.report_progress(
            claimed.job.id, "w1", scale=1, scales=1, step=step, total=40, eta_s=40 - step
        )
    await env.store.complete(claimed.job.id, "w1", result_png(), 64, 48, 0.1)
    await fake.wait_until(lambda: "ready" in fake.original(iid).text(), timeout=10)
    edits = [c for c in fake.calls if c.method == "PATCH" and "@original" in c.path]
    # 40 progress reports, but only a handful of edits reached Discord.
    assert len(edits) < 10


def test_fit_upload_downscales_over_the_limit():
    img = Image.effect_noise((600, 400), 80).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    png = buf.getvalue()
    assert fit_upload(png, len(png), "r").filename == "r.png"
    small = fit_upload(png, 20_000, "r")
    assert small.filename == "r.jpg" and len(small.data) <= 20_000
    assert Image.open(io.BytesIO(small.data)).format == "JPEG"


async def test_result_over_the_upload_limit_is_sent_as_a_smaller_jpeg(tmp_path):
    from tests.bot.discord_bot.conftest import make_settings, open_store
    from tests.fakediscord import FakeDiscord, redirect_discord_py

    settings = make_settings(tmp_path)
    store = await open_store(settings)
    noisy = Image.effect_noise((256, 192), 90).convert("RGB")
    buf = io.BytesIO()
    noisy.save(buf, format="PNG")
    limit = 30_000
    assert len(buf.getvalue()) > limit
    try:
        async with FakeDiscord(attachment_size_limit=limit) as fake:
            with redirect_discord_py(fake):
                async with started_bot(fake, store, settings) as bot:
                    env = BotEnv(fake, bot, store, settings)
                    iid = await submit(env)
                    await queued_card(env, iid)
                    claimed = await store.claim("w1")
                    await store.complete(claimed.job.id, "w1", buf.getvalue(), 256, 192, 0.1)
                    final = await fake.wait_until(
                        lambda: (m := fake.original(iid)) and "ready" in m.text() and m
                    )
                    data = final.file(0)
                    assert len(data) <= limit
                    assert Image.open(io.BytesIO(data)).format == "JPEG"
                    assert final.attachments[0]["filename"].endswith(".jpg")
    finally:
        await store.close()


async def test_upload_refused_with_413_is_retried_smaller(env):
    fake = env.fake
    iid = await submit(env)
    await queued_card(env, iid)
    fake.inject(
        "PATCH",
        r"/webhooks/.*/messages/@original",
        413,
        {"code": 40005, "message": "Request entity too large"},
    )
    job_id = await run_one(env)
    final = await fake.wait_until(lambda: (m := fake.original(iid)) and "ready" in m.text() and m)
    assert final.file(0)
    assert [c for c in fake.calls if c.status == 413]
    await fake.wait_until(lambda: env.bot.watcher.deliveries.get("interaction"), timeout=10)
    assert (await env.store.get_job(job_id)).delivered_via == "interaction"


async def test_dm_when_done_sends_a_link(env):
    fake = env.fake
    iid_settings = await fake.slash("settings", {"dm_when_done": True})
    await fake.wait_until(
        lambda: (m := fake.original(iid_settings)) and "DM when done: **True**" in m.content
    )
    iid = await submit(env)
    await queued_card(env, iid)
    job_id = await run_one(env)
    dms = await fake.wait_until(lambda: fake.dm_messages(fake.alice))
    assert f"#{job_id}" in dms[0].content and "https://discord.com/channels/" in dms[0].content
    assert fake.original(iid).file(0)  # the result itself still went to the interaction
