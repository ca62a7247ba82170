"""Cancel (owner only), queue positions and fair order, and re-run buttons across a restart."""

from __future__ import annotations

import asyncio
import io

from PIL import Image

from bot.store import JobStatus
from tests.bot.discord_bot.conftest import (
    BotEnv,
    make_settings,
    on_failure,
    open_store,
    started_bot,
)
from tests.bot.discord_bot.test_stylize_flow import queued_card, submit


def result_png(size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 40, 90)).save(buf, format="PNG")
    return buf.getvalue()


async def reply_text(fake, iid) -> str:
    msg = await fake.wait_until(lambda: fake.original(iid) or (fake.followups(iid) or [None])[-1])
    return msg.content


async def test_cancel_is_owner_only(env):
    fake = env.fake
    iid = await submit(env, user=fake.alice)
    card = await queued_card(env, iid)
    (job,) = await env.store.active_jobs()
    bob_click = await fake.click(card, f"nst:cancel:{job.id}", user=fake.bob)
    text = await reply_text(fake, bob_click)
    assert "only the person who started" in text
    assert (await env.store.get_job(job.id)).status == JobStatus.QUEUED
    alice_click = await fake.click(card, f"nst:cancel:{job.id}", user=fake.alice)
    assert "Cancelling" in await reply_text(fake, alice_click)
    await fake.wait_until(lambda: "cancelled" in fake.original(iid).content)
    assert (await env.store.get_job(job.id)).status == JobStatus.CANCELLED
    assert fake.original(iid).custom_ids() == []  # the Cancel button is gone


async def test_queue_positions_and_fair_order(env):
    fake = env.fake
    carol = fake.add_user("carol")
    cards = []
    for user in (fake.alice, fake.alice, fake.alice, fake.bob, carol):
        iid = await submit(env, user=user)
        cards.append(await queued_card(env, iid))
    # Positions follow the fair order: bob and carol go ahead of alice's second and third jobs.
    # (the place, without what follows it: the ETA, or why there is none yet)
    positions = [c.content.split("\n")[1].split(" — ")[0].split(" · ")[0] for c in cards]
    assert positions == [
        "Position **1** of 1",
        "Position **2** of 2",
        "Position **3** of 3",
        "Position **2** of 4",
        "Position **3** of 5",
    ]
    # A fourth job for alice exceeds the per-user limit, with a clear message.
    iid = await submit(env, user=fake.alice)
    msgs = await fake.wait_until(lambda: fake.followups(iid))
    assert "limit is 3" in msgs[-1].content
    # Fair order: one executor serves alice, bob, carol before alice's second job.
    owners = []
    for _ in range(3):
        claimed = await env.store.claim("w1")
        owners.append(claimed.job.owner_id)
        await env.store.complete(claimed.job.id, "w1", result_png(), 64, 48, 0.1)
    assert owners == [int(fake.alice["id"]), int(fake.bob["id"]), int(carol["id"])]
    queue_iid = await fake.slash("queue", {}, user=fake.alice)
    await fake.wait_until(lambda: "Position" in fake.original(queue_iid).content)
    assert "Position **1**" in fake.original(queue_iid).content


async def test_waiting_cards_follow_the_queue(fake_discord, tmp_path):
    fake = fake_discord
    settings = make_settings(tmp_path, queue_refresh_interval_s=0.5)
    store = await open_store(settings)
    try:
        async with started_bot(fake, store, settings) as bot:
            env = BotEnv(fake, bot, store, settings)
            iids, cards = [], []
            for user in (fake.alice, fake.bob):  # one after the other: alice's is first in line
                iids.append(await submit(env, user=user))
                cards.append(await queued_card(env, iids[-1]))
            assert "Position **2** of 2" in cards[1].content
            # Nothing moved: a few refresh rounds later the cards were not edited again.
            edits = [c.edits for c in cards]
            await asyncio.sleep(1.5)
            assert [fake.original(iid).edits for iid in iids] == edits
            # Alice's job starts: Bob's card moves up to first in line, Cancel button kept.
            claimed = await store.claim("w1")
            assert claimed.job.owner_id == int(fake.alice["id"])
            moved = await fake.wait_until(
                lambda: (
                    "Position **1** of 1" in fake.original(iids[1]).content
                    and fake.original(iids[1])
                )
            )
            bob_job = (await store.active_jobs(owner_id=int(fake.bob["id"])))[0]
            assert moved.custom_ids() == [f"nst:cancel:{bob_job.id}"]
        assert fake.unknown_calls == []
    finally:
        await store.close()


async def test_rerun_button_works_after_restart(fake_discord, store, settings):
    fake = fake_discord
    async with started_bot(fake, store, settings) as bot:
        env = BotEnv(fake, bot, store, settings)
        iid = await submit(env, strength=1.5)
        await queued_card(env, iid)
        claimed = await store.claim("w1")
        await store.complete(claimed.job.id, "w1", result_png(), 64, 48, 0.2)
        final = await fake.wait_until(
            lambda: (m := fake.original(iid)) and "ready" in m.text() and m
        )
    parent = claimed.job.id
    # A brand-new bot process (same store): the persistent button still works.
    async with started_bot(fake, store, settings):
        click = await fake.click(final, f"nst:rerun:{parent}:stronger", user=fake.alice)
        card = await fake.wait_until(
            lambda: (m := fake.original(click)) is not None and "queued" in m.content and m
        )
    (child,) = await store.active_jobs()
    assert child.params.parent_job_id == parent
    assert child.params.style_strength == 3.0
    assert child.content_sha == claimed.job.content_sha
    assert card.custom_ids() == [f"nst:cancel:{child.id}"]


async def test_cooldown_and_full_queue_have_specific_messages(fake_discord, tmp_path):
    from tests.bot.discord_bot.conftest import make_settings, open_store

    fake = fake_discord
    settings = make_settings(
        tmp_path, cooldown_s=60.0, global_queue_limit=2, guild_queue_limit=2, per_user_queue_limit=2
    )
    store = await open_store(settings)
    try:
        async with started_bot(fake, store, settings) as bot:
            env = BotEnv(fake, bot, store, settings)
            codes: list[str] = []
            on_failure(bot, lambda code, exc: codes.append(code))
            await queued_card(env, await submit(env, user=fake.alice))
            again = await submit(env, user=fake.alice)
            msgs = await fake.wait_until(lambda: fake.followups(again))
            assert codes == ["cooldown"] and "wait" in msgs[-1].content.lower()
            await queued_card(env, await submit(env, user=fake.bob))
            full = await submit(env, user=fake.add_user("carol"))
            msgs = await fake.wait_until(lambda: fake.followups(full))
            assert codes == ["cooldown", "queue_full"]
            assert msgs[-1].ephemeral
    finally:
        await store.close()
