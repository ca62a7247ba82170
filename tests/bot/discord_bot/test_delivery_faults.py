"""Exactly-once delivery under Discord faults: fixed nonces on channel and DM posts (the same
after a restart), transient errors backed off and retried, and deliveries that keep failing
ending as undeliverable with their reason, without holding up the others."""

from __future__ import annotations

import pytest

from bot.discord_bot.courier import INTERRUPTED
from bot.store import JobParams
from bot.store.types import DeliveryState
from tests.bot.discord_bot.conftest import BotEnv, make_settings, open_store, started_bot
from tests.bot.discord_bot.test_buttons import result_png
from tests.bot.discord_bot.test_commands import answer
from tests.bot.discord_bot.test_delivery import queued_with_expired_token
from tests.bot.discord_bot.test_stylize_flow import png, queued_card
from tests.fakediscord import FakeDiscord, redirect_discord_py

pytestmark = pytest.mark.timeout(90)
CHANNEL_POSTS = r"/channels/\d+/messages"
FAST_RETRIES = {"delivery_backoff_s": 0.2, "delivery_sweep_s": 0.2, "delivery_lease_s": 5.0}


async def finish(store, count: int = 1) -> list[int]:
    """Let `count` queued jobs succeed (the test plays the executor); their ids."""
    ids = []
    for _ in range(count):
        claimed = await store.claim("w1")
        await store.complete(claimed.job.id, "w1", result_png(), 64, 48, 0.1, token=claimed.token)
        ids.append(claimed.job.id)
    return ids


def results(fake: FakeDiscord, job_id: int):
    """Every message that carries job `job_id`'s result (a re-edit counts once)."""
    return fake.result_messages(rf"pastiche-{job_id}\.", has_files=True)


async def wait_state(fake: FakeDiscord, store, job_id: int, state: DeliveryState, within=20.0):
    async def reached():
        job = await store.get_job(job_id)
        return job if job.delivery.state == state else None

    return await fake.wait_until(reached, timeout=within)


async def queued_elsewhere(env: BotEnv, **where) -> str:
    """A queued job made `where` (user=, channel=, guild=, dm=) whose token has expired."""
    fake = env.fake
    content = fake.add_attachment(png(), "cat.png", "image/png")
    style = fake.add_attachment(png((48, 64)), "style.png", "image/png")
    iid = await fake.slash("stylize", {"content": content, "style": style}, **where)
    await queued_card(env, iid)
    fake.expire_token(fake.interaction(iid).token)
    return iid


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path, **FAST_RETRIES)


async def test_channel_and_dm_posts_carry_a_nonce_fixed_by_job_and_destination(env):
    fake = env.fake
    await answer(fake, await fake.slash("settings", {"dm_when_done": True}), "DM when done")
    await queued_with_expired_token(env)
    (first,) = await finish(env.store)
    await wait_state(fake, env.store, first, DeliveryState.DELIVERED)
    fake.forbid_channel(fake.channel_id)
    await queued_with_expired_token(env)
    (second,) = await finish(env.store)
    await wait_state(fake, env.store, second, DeliveryState.DELIVERED)
    posts = [c for c in fake.find("POST", CHANNEL_POSTS) if c.json]
    by_nonce = {c.json.get("nonce"): c for c in posts}
    assert by_nonce[f"nst{first}c"].ok and by_nonce[f"nst{first}c"].files  # the result
    assert by_nonce[f"nst{first}n"].ok  # the DM note linking to it
    assert by_nonce[f"nst{second}c"].status == 403  # channel refused
    assert by_nonce[f"nst{second}d"].ok and by_nonce[f"nst{second}d"].files  # so: by DM
    assert f"nst{second}n" not in by_nonce  # no note about a result that came by DM itself
    assert all(c.json.get("enforce_nonce") is True for c in posts)
    assert all(len(n) <= 25 for n in by_nonce)
    assert len(results(fake, first)) == 1 and len(results(fake, second)) == 1


async def test_reset_after_the_post_is_retried_with_the_same_nonce_and_posts_once(env):
    fake = env.fake
    await queued_with_expired_token(env)
    # The message is created, but the bot's connection is reset before the answer.
    knob = fake.chaos(1.0, ["reset"], paths=CHANNEL_POSTS, methods=["POST"], after=True, limit=1)
    (job_id,) = await finish(env.store)
    job = await wait_state(fake, env.store, job_id, DeliveryState.DELIVERED)
    posts = fake.find("POST", CHANNEL_POSTS)
    assert len(knob.faults) == 1 and len(posts) == 2
    assert {c.json["nonce"] for c in posts} == {f"nst{job_id}c"}
    assert "duplicate" in posts[1].note
    (only,) = results(fake, job_id)
    assert job.delivered_message_id == int(only.message.id) and job.delivered_via == "channel"
    assert job.delivery.attempts == 2 and env.bot.watcher.outcomes["retry"] == 1


async def test_restart_mid_delivery_retries_the_recorded_destination_once(
    fake_discord, store, settings
):
    """The channel refuses, so the first bot DMs the result; the DM reaches Discord but not its
    answer, and the bot stops before it could retry. By then the channel would take the post,
    but the next bot retries the recorded destination, the DM, with the same nonce: one DM."""
    fake = fake_discord
    dm_channel = fake.dm_channel(fake.alice)
    fake.forbid_channel(fake.channel_id)
    fake.chaos(1.0, ["reset"], paths=rf"/channels/{dm_channel}/messages", after=True, limit=1)
    slow = settings.model_copy(update={"delivery_backoff_s": 3.0})  # no retry of its own
    async with started_bot(fake, store, slow) as first_bot:
        await queued_with_expired_token(BotEnv(fake, first_bot, store, slow))
        since = len(fake.calls)
        (job_id,) = await finish(store)
        await fake.wait_for(lambda c: "chaos" in c.note, since=since)
    interrupted = await store.get_job(job_id)
    assert interrupted.delivery.state != DeliveryState.DELIVERED
    assert interrupted.delivery.target == "dm"
    fake.forbidden_channels.pop(fake.channel_id)
    async with started_bot(fake, store, settings) as second_bot:
        job = await wait_state(fake, store, job_id, DeliveryState.DELIVERED)
        assert job.delivery.holder == second_bot.watcher.holder != first_bot.watcher.holder
    dms = fake.find("POST", rf"/channels/{dm_channel}/messages")
    assert [c.json["nonce"] for c in dms] == [f"nst{job_id}d"] * 2
    assert "duplicate" in dms[1].note
    (only,) = results(fake, job_id)
    assert only.where == "dm" and job.delivered_via == "dm"
    assert len(fake.find("POST", rf"/channels/{fake.channel_id}/messages")) == 1  # the 403


async def test_transient_errors_back_off_and_finally_deliver(env):
    fake = env.fake
    await queued_with_expired_token(env)
    # A 503 (discord.py raises it at once), then a 429 without Via (raised, not retried).
    fake.inject("POST", CHANNEL_POSTS, 503, {"message": "Service Unavailable", "code": 0})
    knob = fake.chaos(1.0, ["429"], paths=CHANNEL_POSTS, methods=["POST"], cloudflare=True, limit=1)
    (job_id,) = await finish(env.store)
    job = await wait_state(fake, env.store, job_id, DeliveryState.DELIVERED)
    statuses = [c.status for c in fake.find("POST", CHANNEL_POSTS)]
    assert statuses == [503, 429, 200] and len(knob.faults) == 1
    assert job.delivery.attempts == 3 and env.bot.watcher.outcomes["retry"] == 2
    assert job.delivery.error is None
    assert len(results(fake, job_id)) == 1


async def test_poisoned_deliveries_end_undeliverable_and_block_nobody(tmp_path):
    settings = make_settings(tmp_path, delivery_max_attempts=3, **FAST_RETRIES)
    store = await open_store(settings)
    try:
        async with FakeDiscord() as fake:
            with redirect_discord_py(fake):
                async with started_bot(fake, store, settings) as bot:
                    env = BotEnv(fake, bot, store, settings)
                    cursed = fake.add_channel("cursed")
                    fake.inject("POST", rf"/channels/{cursed}/messages", 503, times=1000)
                    for _ in range(3):  # alice's three jobs there finish first
                        await queued_elsewhere(env, channel=cursed)
                    poisoned = await finish(store, 3)
                    for _ in range(2):
                        await queued_elsewhere(env, user=fake.bob)
                    good = await finish(store, 2)
                    for job_id in good:
                        await wait_state(fake, store, job_id, DeliveryState.DELIVERED)
                        assert len(results(fake, job_id)) == 1
                    for job_id in poisoned:
                        job = await wait_state(fake, store, job_id, DeliveryState.UNDELIVERABLE)
                        assert job.delivery.attempts == 3
                        assert "gave up after 3 attempts" in job.delivery.error
                        assert "503" in job.delivery.error
                    shown = await answer(
                        fake, await fake.slash("job", {"job_id": poisoned[0]}), "Delivery"
                    )
                    assert "Could not be delivered" in shown.text() and "503" in shown.text()
                    assert bot.watcher.outcomes["undeliverable"] == 3
    finally:
        await store.close()


async def test_a_shutdown_mid_delivery_hands_the_job_back_at_once(fake_discord, store, settings):
    fake = fake_discord
    # Discord makes the bot wait 20 s before its channel post (discord.py sleeps, then retries).
    fake.chaos(1.0, ["429"], paths=CHANNEL_POSTS, methods=["POST"], retry_after=20.0, limit=1)
    async with started_bot(fake, store, settings) as bot:
        await queued_with_expired_token(BotEnv(fake, bot, store, settings))
        since = len(fake.calls)
        (job_id,) = await finish(store)
        await fake.wait_for(lambda c: c.status == 429, since=since)
    job = await store.get_job(job_id)
    assert job.delivery.state == DeliveryState.PENDING and job.delivery.holder is None
    assert job.delivery.error == INTERRUPTED
    async with started_bot(fake, store, settings):
        job = await wait_state(fake, store, job_id, DeliveryState.DELIVERED)
    assert job.delivery.attempts == 2 and len(results(fake, job_id)) == 1


async def test_deliveries_that_never_finish_end_undeliverable(tmp_path):
    """Attempts that died with their bot process (leases that simply ran out) count: past
    DELIVERY_MAX_ATTEMPTS the next holder gives up instead of trying forever."""
    settings = make_settings(tmp_path, delivery_max_attempts=2, **FAST_RETRIES)
    store = await open_store(settings)
    try:
        await store.submit(
            1, None, None, _blob(), [(_blob(), 1.0)], JobParams(size=64, preset="fast")
        )
        (job_id,) = await finish(store)
        for _ in range(2):  # two bot processes took it and died mid-delivery
            assert await store.lease_delivery(job_id, "dead-bot", lease_s=0.0) is not None
        async with FakeDiscord() as fake:
            with redirect_discord_py(fake):
                async with started_bot(fake, store, settings):
                    job = await wait_state(fake, store, job_id, DeliveryState.UNDELIVERABLE)
            assert "never finished" in job.delivery.error
            assert results(fake, job_id) == []
    finally:
        await store.close()


def _blob():
    from bot.store import ImageBlob

    data = png()
    return ImageBlob(data, "png", 64, 48)
