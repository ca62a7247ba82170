"""/stylize and the "Stylize" menu refuse over limits before any download (through the fake
Discord: a refused command makes no CDN request), and the menu respects spoilers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.bot.discord_bot.conftest import (
    BotEnv,
    make_settings,
    on_failure,
    open_store,
    started_bot,
)
from tests.bot.discord_bot.test_stylize_flow import png, queued_card, submit


@contextlib.asynccontextmanager
async def bot_with(fake, tmp_path, **overrides: Any) -> AsyncIterator[BotEnv]:
    """The bot on a fresh store with these settings changed."""
    settings = make_settings(tmp_path, **overrides)
    store = await open_store(settings)
    try:
        async with started_bot(fake, store, settings) as bot:
            env = BotEnv(fake, bot, store, settings)
            on_failure(bot, lambda code, exc: env.errors.append((code, exc)))
            yield env
    finally:
        await store.close()
    assert fake.unknown_calls == []


async def accepted(env: BotEnv, user=None, **kw) -> None:
    await queued_card(env, await submit(env, user=user, **kw))


async def one_each(env: BotEnv) -> None:
    await accepted(env, env.fake.alice)


async def alice_and_bob(env: BotEnv) -> None:
    await accepted(env, env.fake.alice)
    await accepted(env, env.fake.bob)


async def close_channel(env: BotEnv) -> None:
    other = env.fake.add_channel("art")
    await env.store.set_guild_settings(int(env.fake.guild_id), allowed_channel_ids=[int(other)])


async def guild_and_dm(env: BotEnv) -> None:
    await accepted(env, env.fake.alice)
    await queued_card(env, await env.fake.slash("stylize", _images(env), user="dee", dm=True))


async def nothing(env: BotEnv) -> None:
    return None


def _images(env: BotEnv, prefix: str = "ok") -> dict:
    fake = env.fake
    return {
        "content": fake.add_attachment(png(), f"{prefix}-content.png", "image/png"),
        "style": fake.add_attachment(png((48, 64)), f"{prefix}-style.png", "image/png"),
    }


Setup = Callable[[BotEnv], Awaitable[None]]
# case -> (settings, what happened before, who asks (name) and how, refusal code, words)
CASES: dict[str, tuple[dict, Setup, str, dict, str, str]] = {
    "user_limit": (
        {"per_user_queue_limit": 1},
        one_each,
        "alice",
        {},
        "user_limit",
        "the limit is 1",
    ),
    "cooldown": ({"cooldown_s": 600}, one_each, "alice", {}, "cooldown", "wait 600 s"),
    "closed_channel": ({}, close_channel, "alice", {}, "channel_not_allowed", "not enabled"),
    "too_large": ({}, nothing, "alice", {"size": 4096}, "too_large", "256 px"),
    "guild_full": (
        {"per_user_queue_limit": 1, "guild_queue_limit": 2},
        alice_and_bob,
        "carol",
        {},
        "guild_full",
        "share of the queue (2)",
    ),
    "queue_full": (
        {"per_user_queue_limit": 1, "guild_queue_limit": 2, "global_queue_limit": 2},
        guild_and_dm,
        "carol",
        {"dm": True},
        "queue_full",
        "queue is full",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_refused_stylize_downloads_nothing(fake_discord, tmp_path, case) -> None:
    overrides, setup, who, how, code, words = CASES[case]
    fake = fake_discord
    async with bot_with(fake, tmp_path, **overrides) as env:
        await setup(env)
        jobs_before = len(await env.store.active_jobs())
        options = {**_images(env, "refused"), **{k: v for k, v in how.items() if k != "dm"}}
        iid = await fake.slash("stylize", options, user=who, dm=how.get("dm", False))
        msgs = await fake.wait_until(lambda: fake.followups(iid))
        assert words in msgs[-1].content, msgs[-1].content
        assert msgs[-1].ephemeral
        assert env.error_codes() == [code]
        assert not [c for c in fake.calls if c.is_cdn and "refused-" in c.path]
        assert len(await env.store.active_jobs()) == jobs_before


async def test_menu_skips_spoilers_unless_the_author_asks(env) -> None:
    fake = env.fake
    hidden = [
        fake.add_attachment(png(), "SPOILER_me.png", "image/png"),
        fake.add_attachment(png((48, 64)), "SPOILER_art.png", "image/png"),
    ]
    posted = fake.post_user_message("mine", attachments=hidden, user=fake.bob)
    iid = await fake.context_menu("Stylize", posted, user=fake.alice)
    msgs = await fake.wait_until(lambda: fake.followups(iid))
    assert "not hidden as spoilers" in msgs[-1].content
    assert env.error_codes() == ["need_two_images"]
    assert not [c for c in fake.calls if c.is_cdn and "SPOILER_" in c.path]
    await queued_card(env, await fake.context_menu("Stylize", posted, user=fake.bob))
    (job,) = await env.store.active_jobs()
    assert job.owner_id == int(fake.bob["id"])


async def test_menu_records_whose_images_they_are(env) -> None:
    fake = env.fake
    a = fake.add_attachment(png(), "photo.png", "image/png")
    b = fake.add_attachment(png((48, 64)), "paint.png", "image/png")
    posted = fake.post_user_message("look", attachments=[a, b], user=fake.bob)
    await queued_card(env, await fake.context_menu("Stylize", posted, user=fake.alice))
    (job,) = await env.store.active_jobs()
    bob = int(fake.bob["id"])
    assert job.owner_id == int(fake.alice["id"])
    assert (job.content_source_id, job.style_source_ids) == (bob, (bob,))


async def test_menu_refusal_comes_before_the_download(fake_discord, tmp_path) -> None:
    fake = fake_discord
    async with bot_with(fake, tmp_path, per_user_queue_limit=1) as env:
        await accepted(env, fake.alice)
        a = fake.add_attachment(png(), "refused-photo.png", "image/png")
        b = fake.add_attachment(png((48, 64)), "refused-paint.png", "image/png")
        posted = fake.post_user_message("look", attachments=[a, b], user=fake.bob)
        iid = await fake.context_menu("Stylize", posted, user=fake.alice)
        msgs = await fake.wait_until(lambda: fake.followups(iid))
        assert "the limit is 1" in msgs[-1].content
        assert not [c for c in fake.calls if c.is_cdn and "refused-" in c.path]
