"""Option ranges come from the settings at sync time: read from the command payload the fake
Discord received."""

from __future__ import annotations

import discord
import pytest
from discord import app_commands

from bot.discord_bot.options import job_options
from bot.store.types import MAX_STRENGTH, MIN_SIZE, MIN_STRENGTH, PRESETS
from nst_engine.params import JOB_PARAMS
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


def payload(callback) -> list[dict]:
    """The options discord.py would sync for a command with this callback."""
    command = app_commands.Command(name="cmd", description="test", callback=callback)
    tree = app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    return command.to_dict(tree)["options"]


def test_job_options_go_where_asked_with_their_definitions() -> None:
    async def cmd(
        interaction: discord.Interaction,
        photo: discord.Attachment,
        extra: str | None = None,
        **options,
    ) -> None:
        pass

    slash = [p for p in JOB_PARAMS if p.slash]
    options = payload(job_options(after="photo")(cmd))
    assert [o["name"] for o in options] == ["photo", *(p.option_name for p in slash), "extra"]
    by_name = {o["name"]: o for o in options}
    for p in slash:
        assert by_name[p.option_name]["description"] == p.description
        assert not by_name[p.option_name]["required"]
    assert [c["value"] for c in by_name["preset"]["choices"]] == list(PRESETS)
    # The size's maximum is the operator's MAX_SIZE, set by apply_option_limits at sync time.
    assert by_name["size"].get("max_value") is None and by_name["size"]["min_value"] == MIN_SIZE


def test_saved_job_options_are_the_ones_users_can_save() -> None:
    async def settings(interaction: discord.Interaction, **options) -> None:
        pass

    options = payload(job_options(saved=True)(settings))
    saved = [p for p in JOB_PARAMS if p.slash and p.saved_description]
    assert {o["name"]: o["description"] for o in options} == {
        p.option_name: p.saved_description for p in saved
    }


def test_job_options_need_a_place_for_the_values() -> None:
    async def strict(interaction: discord.Interaction, photo: discord.Attachment) -> None:
        pass

    with pytest.raises(TypeError, match=r"\*\*options"):
        job_options()(strict)
