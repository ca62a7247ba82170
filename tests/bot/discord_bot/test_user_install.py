"""The user-installable app through the real bot and the fake Discord: commands declared for
both installs, and `/stylize` where the bot is no member (a server without it, a group DM):
the job is its owner's own, delivered through the interaction, then by DM, never in the
channel (which would answer 403 Missing Access)."""

from __future__ import annotations

import pytest

from bot.store import JobStatus, unseen_message
from bot.store.types import DeliveryState, InstallContext
from tests.bot.discord_bot.test_buttons import result_png
from tests.bot.discord_bot.test_commands import answer
from tests.bot.discord_bot.test_stylize_flow import png
from tests.fakediscord import FakeDiscord

pytestmark = pytest.mark.timeout(60)

GUILD_INSTALL, USER_INSTALL = 0, 1
GUILD, BOT_DM, PRIVATE_CHANNEL = 0, 1, 2


def server_without_the_bot(fake: FakeDiscord) -> str:
    """The first channel of a new server the bot is not in."""
    return fake.guilds[fake.add_guild("Elsewhere", bot_member=False)]["channels"][0]


async def stylize_in(env, channel: str, user=None, user_install=None, **options) -> str:
    fake = env.fake
    content = fake.add_attachment(png(), "cat.png", "image/png")
    style = fake.add_attachment(png((48, 64)), "style.png", "image/png")
    opts = {"content": content, "style": style, **options}
    return await fake.slash("stylize", opts, channel=channel, user=user, user_install=user_install)


async def queued_job(env, iid: str):
    """Wait for the queue card of `iid`; the job it shows."""
    await env.fake.wait_until(lambda: (m := env.fake.original(iid)) and not m.loading and m)
    (job,) = await env.fake.wait_until(env.store.active_jobs)
    return job


def channel_posts(fake: FakeDiscord, channel: str) -> list:
    return fake.find("POST", rf"/channels/{channel}/messages")


async def test_every_command_but_config_is_offered_to_both_installs_everywhere(env):
    commands = env.fake.commands
    assert {"stylize", "history", "job", "settings", "Stylize"} <= set(commands)
    for name, cmd in commands.items():
        if name == "config":
            continue
        assert sorted(cmd["integration_types"]) == [GUILD_INSTALL, USER_INSTALL], name
        assert sorted(cmd["contexts"]) == [GUILD, BOT_DM, PRIVATE_CHANNEL], name
    config = commands["config"]
    assert config["integration_types"] == [GUILD_INSTALL] and config["contexts"] == [GUILD]


PLACES = {
    "server without the bot": server_without_the_bot,
    "group DM": lambda fake: fake.add_group_dm(fake.alice, fake.bob),
    # The bot is a member, but only alice's install authorised the command: treated alike.
    "server with the bot, user install only": lambda fake: fake.channel_id,
}


@pytest.mark.parametrize("place", list(PLACES))
async def test_result_and_progress_come_through_the_interaction(env, place):
    fake = env.fake
    channel = PLACES[place](fake)
    iid = await stylize_in(env, channel, user_install=True)
    job = await queued_job(env, iid)
    assert job.interaction.install_context is InstallContext.USER
    assert job.guild_id is None and job.channel_id == int(channel)  # the owner's own job
    claimed = await env.store.claim("w1")
    preview = png((32, 24))
    await env.store.report_progress(
        job.id, "w1", scale=1, scales=1, step=5, total=10, eta_s=2.0, preview_jpeg=preview
    )
    await fake.wait_until(
        lambda: any(a["filename"].startswith("preview-") for a in fake.original(iid).attachments)
    )
    await env.store.complete(claimed.job.id, "w1", result_png(), 64, 48, 0.1)
    (delivery,) = await fake.wait_until(
        lambda: fake.result_messages(rf"pastiche-{job.id}\.", has_files=True)
    )
    assert delivery.where == "original" and delivery.interaction_id == iid
    await fake.wait_until(lambda: env.bot.watcher.deliveries.get("interaction"), timeout=10)
    assert (await env.store.get_job(job.id)).delivered_via == "interaction"
    assert channel_posts(fake, channel) == []  # never tried: Discord would answer 403


async def test_after_the_token_expired_the_result_goes_by_dm_never_to_the_channel(env):
    fake = env.fake
    channel = server_without_the_bot(fake)
    iid = await stylize_in(env, channel)
    job = await queued_job(env, iid)
    fake.expire_token(iid)
    await env.store.claim("w1")
    await env.store.complete(job.id, "w1", result_png(), 64, 48, 0.1)
    (delivery,) = await fake.wait_until(
        lambda: fake.result_messages(rf"pastiche-{job.id}\.", has_files=True), timeout=10
    )
    assert delivery.where == "dm" and delivery.message.channel_id == fake.dm_channel(fake.alice)
    await fake.wait_until(lambda: env.bot.watcher.deliveries.get("dm"), timeout=10)
    assert (await env.store.get_job(job.id)).delivered_via == "dm"
    assert channel_posts(fake, channel) == []
    assert not [c for c in fake.calls if c.error_code == 50001]  # nothing the bot can't reach


async def test_with_dms_closed_too_it_is_undeliverable_and_says_why(env):
    fake = env.fake
    iid = await stylize_in(env, server_without_the_bot(fake))
    job = await queued_job(env, iid)
    fake.expire_token(iid)
    fake.close_dms(fake.alice)
    await env.store.claim("w1")
    await env.store.complete(job.id, "w1", result_png(), 64, 48, 0.1)
    await fake.wait_until(lambda: env.bot.watcher.outcomes.get("undeliverable"), timeout=10)
    final = await env.store.get_job(job.id)
    assert final.delivery.state == DeliveryState.UNDELIVERABLE
    assert "user-installed app: no channel post" in final.delivery.error
    assert "DM refused (403, code 50007)" in final.delivery.error


async def test_a_user_install_job_is_its_owners_own(env):
    """Public, but made through the user install: nobody else in that server sees it, its
    owner sees it from anywhere."""
    fake = env.fake
    channel = server_without_the_bot(fake)
    iid = await stylize_in(env, channel, private=False)
    job = await queued_job(env, iid)
    assert job.status == JobStatus.QUEUED and not job.params.private
    bob_job = await fake.slash("job", {"job_id": job.id}, user=fake.bob, channel=channel)
    assert unseen_message(job.id) in (await answer(fake, bob_job)).text()
    bob_history = await fake.slash("history", {"user": fake.alice}, user=fake.bob, channel=channel)
    assert f"#{job.id}" not in (await answer(fake, bob_history)).text()
    for where in ({"channel": channel}, {"dm": True}):
        mine = await fake.slash("job", {"job_id": job.id}, user=fake.alice, **where)
        assert unseen_message(job.id) not in (await answer(fake, mine, f"#{job.id}")).text()


async def test_a_rerun_button_keeps_the_user_install(env):
    fake = env.fake
    channel = server_without_the_bot(fake)
    iid = await stylize_in(env, channel)
    job = await queued_job(env, iid)
    await env.store.claim("w1")
    await env.store.complete(job.id, "w1", result_png(), 64, 48, 0.1)
    result = await fake.wait_until(
        lambda: (m := fake.original(iid)) and f"nst:rerun:{job.id}:stronger" in m.custom_ids() and m
    )
    click = await fake.click(result, f"nst:rerun:{job.id}:stronger")
    (rerun,) = await fake.wait_until(env.store.active_jobs)
    assert rerun.params.parent_job_id == job.id
    assert rerun.interaction.install_context is InstallContext.USER and rerun.guild_id is None
    assert fake.interaction(click).payload["authorizing_integration_owners"] == {
        "1": fake.alice["id"]
    }


async def test_dm_when_done_points_at_the_reply_without_a_broken_link(env):
    fake = env.fake
    done = await fake.slash("settings", {"dm_when_done": True})
    await fake.wait_until(lambda: (m := fake.original(done)) and "DM when done" in m.text())
    iid = await stylize_in(env, server_without_the_bot(fake))
    job = await queued_job(env, iid)
    await env.store.claim("w1")
    await env.store.complete(job.id, "w1", result_png(), 64, 48, 0.1)
    (note,) = await fake.wait_until(lambda: fake.dm_messages(fake.alice))
    assert f"#{job.id}" in note.content and "reply to your command" in note.content
    assert "discord.com/channels/" not in note.content  # its server is not recorded
    assert fake.original(iid).attachments  # the result itself is in the interaction
