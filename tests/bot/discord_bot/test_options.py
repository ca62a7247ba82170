"""Option ranges come from the settings at sync time: read from the command payload the fake
Discord received."""

from __future__ import annotations

from bot.store.types import MAX_STRENGTH, MIN_SIZE, MIN_STRENGTH, PRESETS
from tests.bot.discord_bot.conftest import make_settings, open_store, started_bot


def option(fake, command: str, name: str) -> dict:
    return next(o for o in fake.commands[command]["options"] if o["name"] == name)


def bounds(fake, command: str, name: str) -> tuple:
    opt = option(fake, command, name)
    return opt.get("min_value"), opt.get("max_value")


async def test_ranges_follow_the_settings(env) -> None:
    fake, s = env.fake, env.settings
    await fake.wait_until(lambda: "config" in fake.commands)
    assert bounds(fake, "stylize", "size") == (MIN_SIZE, s.max_size) == (64, 256)
    assert bounds(fake, "settings", "size") == (MIN_SIZE, s.max_size)
    assert bounds(fake, "config", "max_size") == (MIN_SIZE, s.max_size)
    assert bounds(fake, "config", "per_user_limit") == (1, s.per_user_queue_limit) == (1, 3)
    assert bounds(fake, "stylize", "strength") == (MIN_STRENGTH, MAX_STRENGTH)
    assert bounds(fake, "settings", "strength") == (MIN_STRENGTH, MAX_STRENGTH)
    choices = [c["value"] for c in option(fake, "stylize", "preset")["choices"]]
    assert tuple(choices) == PRESETS


async def test_another_bot_with_other_settings_syncs_its_own(fake_discord, tmp_path) -> None:
    fake = fake_discord
    for max_size, per_user in ((256, 2), (1024, 5)):
        settings = make_settings(
            tmp_path / str(max_size), max_size=max_size, per_user_queue_limit=per_user
        )
        store = await open_store(settings)
        try:
            async with started_bot(fake, store, settings):
                await fake.wait_until(
                    lambda m=max_size: bounds(fake, "stylize", "size") == (MIN_SIZE, m)
                )
                assert bounds(fake, "config", "per_user_limit") == (1, per_user)
        finally:
            await store.close()
