"""`/config gallery` turns a server's web gallery on and off (through the fake Discord)."""

from __future__ import annotations

from tests.bot.discord_bot.test_commands import answer


async def test_config_gallery_turns_the_servers_gallery_on_and_off(env) -> None:
    fake = env.fake
    guild = int(fake.guild_id)
    admin = fake.add_user("ada", admin=True)
    iid = await fake.slash("config", {}, user=admin)
    assert "web gallery: off" in (await answer(fake, iid, "web gallery")).content
    await fake.slash("config", {"gallery": True}, user=fake.bob)  # not an admin
    await fake.wait_until(lambda: env.errors)
    assert env.error_codes() == ["missing_permissions"]
    assert not await env.store.gallery_enabled(guild)

    iid = await fake.slash("config", {"gallery": True}, user=admin)
    reply = await answer(fake, iid, "web gallery")
    assert "web gallery: on" in reply.content and "/g/<server id>" in reply.content
    assert await env.store.gallery_enabled(guild)
    # Other options leave it as it is; gallery:False turns it off.
    iid = await fake.slash("config", {"max_size": 128}, user=admin)
    assert "web gallery: on" in (await answer(fake, iid, "web gallery")).content
    iid = await fake.slash("config", {"gallery": False}, user=admin)
    assert "web gallery: off" in (await answer(fake, iid, "web gallery")).content
    assert not await env.store.gallery_enabled(guild)
