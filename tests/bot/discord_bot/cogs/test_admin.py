"""/config can lower the operator's limits and never raise them (through the fake Discord)."""

from __future__ import annotations

from tests.bot.discord_bot.test_commands import answer
from tests.bot.discord_bot.test_stylize_flow import png, queued_card, submit


async def refused_text(env, iid) -> str:
    msgs = await env.fake.wait_until(lambda: env.fake.followups(iid))
    return msgs[-1].content


async def test_config_cannot_raise_the_operators_limits(env) -> None:
    fake = env.fake
    admin = fake.add_user("ada", admin=True)
    iid = await fake.slash("config", {"per_user_limit": 100, "max_size": 4096}, user=admin)
    reply = await answer(fake, iid, "jobs per user")
    assert "jobs per user: 3 (set to 100, but the bot allows at most 3)" in reply.content
    assert "max size: 256 px (set to 4096 px, but the bot allows at most 256 px)" in reply.content
    assert "not raise them" in reply.content
    for _ in range(3):
        await queued_card(env, await submit(env, user=fake.alice))
    assert "the limit is 3" in await refused_text(env, await submit(env, user=fake.alice))
    too_big = await submit(env, user=fake.bob, size=512)
    assert "largest output allowed here is 256 px" in await refused_text(env, too_big)
    assert env.error_codes() == ["user_limit", "too_large"]


async def test_config_lowers_the_limits(env) -> None:
    fake = env.fake
    admin = fake.add_user("ada", admin=True)
    iid = await fake.slash("config", {"per_user_limit": 1, "max_size": 128}, user=admin)
    reply = await answer(fake, iid, "jobs per user")
    assert "jobs per user: 1\n" in reply.content and "max size: 128 px\n" in reply.content
    await queued_card(env, await submit(env, user=fake.alice, size=128))
    assert "the limit is 1" in await refused_text(env, await submit(env, user=fake.alice))
    too_big = await submit(env, user=fake.bob, size=200)
    assert "largest output allowed here is 128 px" in await refused_text(env, too_big)
    # The rules belong to this server: in a DM the operator's limits apply.
    content = fake.add_attachment(png(), "dm.png", "image/png")
    style = fake.add_attachment(png((48, 64)), "dm-style.png", "image/png")
    options = {"content": content, "style": style, "size": 200}
    await queued_card(env, await fake.slash("stylize", options, user=fake.bob, dm=True))
