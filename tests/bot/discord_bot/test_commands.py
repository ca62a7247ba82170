"""/history, /job, /settings, /forget, /config, /stats, /sync and the "Stylize" context menu."""

from __future__ import annotations

import re

from bot.store import JobStatus, Viewer
from tests.bot.discord_bot.test_buttons import reply_text, result_png
from tests.bot.discord_bot.test_stylize_flow import png, queued_card, submit


async def finish_all(env):
    while (claimed := await env.store.claim("w1")) is not None:
        await env.store.complete(claimed.job.id, "w1", result_png(), 64, 48, 0.1)


async def answer(fake, iid, needle=""):
    return await fake.wait_until(
        lambda: (m := fake.original(iid)) is not None and not m.loading and needle in m.text() and m
    )


async def test_history_hides_private_jobs_from_others_and_pages(env):
    fake = env.fake
    # Eleven jobs: a page holds ten (history.HISTORY_PAGE), so the oldest is on page 2.
    for private in (True, *[False] * 10):
        iid = await submit(env, user=fake.alice, private=private)
        await queued_card(env, iid)
        await finish_all(env)
    jobs = await env.store.history(int(fake.alice["id"]), Viewer(int(fake.alice["id"])), limit=50)
    private_id = next(j.id for j in jobs if j.params.private)
    mine = await answer(fake, await fake.slash("history", {}, user=fake.alice), "page 1")
    theirs = await answer(
        fake, await fake.slash("history", {"user": fake.alice}, user=fake.bob), "page 1"
    )
    assert mine.ephemeral
    assert any(c.startswith("nst:history:") for c in mine.custom_ids())
    # Page 2 of alice's own history contains the private job; bob never sees it.
    click = await fake.click(mine, mine.custom_ids()[0], user=fake.alice)
    await fake.wait_until(lambda: "page 2" in fake.messages[mine.id].text())
    private_ref = re.compile(rf"#{private_id}\b")  # not #10 when it is #1
    assert private_ref.search(fake.messages[mine.id].text())
    assert not private_ref.search(theirs.text())
    assert theirs.custom_ids() == []  # bob sees ten jobs: a single page
    assert click


async def test_job_shows_details_and_the_image_again(env):
    fake = env.fake
    iid = await submit(env)
    await queued_card(env, iid)
    await finish_all(env)
    (job,) = await env.store.history(int(fake.alice["id"]), Viewer(int(fake.alice["id"])))
    msg = await answer(fake, await fake.slash("job", {"job_id": job.id}), f"Job #{job.id}")
    assert msg.file(0).startswith(b"\x89PNG")
    assert f"nst:rerun:{job.id}:stronger" in msg.custom_ids()
    missing = await fake.slash("job", {"job_id": 999999})
    text = await reply_text(fake, missing)
    await fake.wait_until(
        lambda: any("no job #999999" in m.content for m in fake.followups(missing))
    )
    assert text is not None


async def test_settings_become_defaults_and_private_defers_ephemerally(env):
    fake = env.fake
    iid = await fake.slash("settings", {"size": 96, "strength": 2.0, "private": True})
    msg = await answer(fake, iid, "96")
    assert "**2.0**" in msg.content
    job_iid = await submit(env)
    card = await queued_card(env, job_iid)
    assert card.ephemeral
    (job,) = await env.store.active_jobs()
    assert (job.params.size, job.params.style_strength, job.params.private) == (96, 2.0, True)
    await answer(fake, await fake.slash("settings", {"reset": True}), "(default)")
    assert (await env.store.get_user_settings(int(fake.alice["id"]))).size is None


async def test_forget_asks_then_deletes_only_for_the_asker(env):
    fake = env.fake
    iid = await submit(env)
    await queued_card(env, iid)
    await finish_all(env)
    ask = await fake.slash("forget", {})
    prompt = await answer(fake, ask, "can't be undone")
    custom_id = f"nst:forget:{fake.alice['id']}"
    assert prompt.custom_ids() == [custom_id]
    assert "Only the person" in await reply_text(
        fake, await fake.click(prompt, custom_id, user=fake.bob)
    )
    await fake.click(prompt, custom_id, user=fake.alice)
    await fake.wait_until(lambda: "deleted 1 job" in fake.messages[prompt.id].content)
    assert await env.store.history(int(fake.alice["id"]), Viewer(int(fake.alice["id"]))) == []


async def test_config_is_admin_only_and_restricts_channels(env):
    fake = env.fake
    admin = fake.add_user("ada", admin=True)
    other = fake.add_channel("art")
    denied = await fake.slash("config", {"per_user_limit": 1}, user=fake.bob)
    await fake.wait_until(lambda: env.errors)
    assert env.error_codes() == ["missing_permissions"]
    assert denied
    iid = await fake.slash("config", {"allow_channel": fake.channels[other]}, user=admin)
    await answer(fake, iid, "allowed channels")
    rules = await env.store.get_guild_settings(int(fake.guild_id))
    assert rules.allowed_channel_ids == (int(other),)
    refused = await submit(env)
    msgs = await fake.wait_until(lambda: fake.followups(refused))
    assert "not enabled in this channel" in msgs[-1].content
    assert not [c for c in fake.calls if c.is_cdn and "cat.png" in c.path]


async def test_stats_and_owner_only_sync(env):
    fake = env.fake
    iid = await submit(env)
    await queued_card(env, iid)
    await finish_all(env)
    stats = await answer(fake, await fake.slash("stats", {}), "Everywhere")
    assert "succeeded 1" in stats.text()
    await fake.slash("sync", {}, user=fake.bob)
    await fake.wait_until(lambda: env.errors)
    assert env.error_codes() == ["not_allowed"]
    ok = await fake.slash("sync", {}, user=fake.owner)
    await answer(fake, ok, "Synced")


async def test_context_menu_uses_first_two_images(env):
    fake = env.fake
    a = fake.add_attachment(png(), "photo.png", "image/png")
    b = fake.add_attachment(png((48, 64)), "paint.png", "image/png")
    posted = fake.post_user_message("look", attachments=[a, b], user=fake.bob)
    iid = await fake.context_menu("Stylize", posted, user=fake.alice)
    await queued_card(env, iid)
    (job,) = await env.store.active_jobs()
    assert job.owner_id == int(fake.alice["id"]) and job.status == JobStatus.QUEUED
    single = fake.post_user_message("one", attachments=[fake.add_attachment(png(), "x.png")])
    iid = await fake.context_menu("Stylize", single)
    msgs = await fake.wait_until(lambda: fake.followups(iid))
    assert "needs two images" in msgs[-1].content


async def test_saved_private_default_applies_right_after_a_restart(fake_discord, store, settings):
    from tests.bot.discord_bot.conftest import BotEnv, started_bot

    fake = fake_discord
    await store.set_user_settings(int(fake.alice["id"]), private=True)
    async with started_bot(fake, store, settings) as bot:  # loads private defaults at start
        env = BotEnv(fake, bot, store, settings)
        card = await queued_card(env, await submit(env, user=fake.alice))
        assert card.ephemeral
        public = await queued_card(env, await submit(env, user=fake.bob))
        assert not public.ephemeral


async def test_job_suggests_your_recent_jobs(env):
    fake = env.fake
    for user in (fake.alice, fake.alice, fake.bob):
        await queued_card(env, await submit(env, user=user))
    alice = int(fake.alice["id"])
    mine = await env.store.history(alice, Viewer(alice))
    assert len(mine) == 2

    async def suggestions(typed: str) -> list[dict]:
        iid = await fake.autocomplete("job", {"job_id": typed}, focused="job_id", user=fake.alice)
        return await fake.wait_until(lambda: fake.interaction(iid).choices)

    # Newest first, only the asker's own jobs, each named with its state and settings.
    choices = await suggestions("")
    assert [c["value"] for c in choices] == [j.id for j in mine]
    assert choices[0]["name"].startswith(f"#{mine[0].id} · queued · 64 px fast · ")
    # What was typed narrows the list ("#" optional).
    oldest = mine[-1].id
    choices = await suggestions(f"#{oldest}")
    assert choices[0]["value"] == oldest
    assert all(str(c["value"]).startswith(str(oldest)) for c in choices)
