"""Self-tests of the fake's user installs: payloads in places without the bot, 403 Missing
Access for bot-token calls there, the follow-up cap, and per-interaction upload limits."""

from __future__ import annotations

import io

import discord
import pytest
from PIL import Image

from tests.fakediscord import FakeDiscord, run_bot
from tests.fakediscord.sample_bot import make_bot, png

pytestmark = pytest.mark.timeout(30)


def noisy_png(side: int) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((side, side), 90).save(buf, "PNG")  # noise: barely compresses
    return buf.getvalue()


async def test_interaction_payloads_say_which_install_authorised_them(fake: FakeDiscord) -> None:
    elsewhere = fake.add_guild("Elsewhere", bot_member=False)
    group = fake.add_group_dm(fake.alice, fake.bob)
    bot = make_bot()
    async with run_bot(bot, fake):
        assert bot.get_guild(int(elsewhere)) is None  # never announced to the bot
        assert bot.get_guild(int(fake.guild_id)) is not None
        here = await fake.slash("later")
        there = await fake.slash("later", guild=elsewhere)
        in_group = await fake.slash("later", channel=group)
        forced = await fake.slash("later", user_install=True)
        in_dm = await fake.slash("later", dm=True)
        await fake.wait_until(lambda: len(bot.seen) == 5)
    alice = fake.alice["id"]

    def where(iid: str) -> tuple[int, dict[str, str]]:
        p = fake.interaction(iid).payload
        return p["context"], p["authorizing_integration_owners"]

    assert where(here) == (0, {"0": fake.guild_id})
    assert where(there) == (0, {"1": alice})
    assert where(in_group) == (2, {"1": alice})
    assert where(forced) == (0, {"1": alice})
    assert where(in_dm)[0] == 1
    group_payload = fake.interaction(in_group).payload
    assert "guild_id" not in group_payload and group_payload["user"]["id"] == alice
    assert group_payload["channel"]["type"] == 3
    assert fake.original(there) is not None  # the defer worked without the bot being there


async def test_bot_token_calls_where_the_bot_is_not_answer_missing_access(
    fake: FakeDiscord,
) -> None:
    elsewhere = fake.add_guild("Elsewhere", bot_member=False)
    foreign = fake.guilds[elsewhere]["channels"][0]
    group = fake.add_group_dm()
    bot = make_bot()
    async with run_bot(bot, fake):
        for cid in (foreign, group):
            channel = bot.get_partial_messageable(int(cid))
            with pytest.raises(discord.Forbidden) as refused:
                await channel.send("hello")
            assert refused.value.code == 50001
        with pytest.raises(discord.Forbidden):
            await bot.fetch_guild(int(elsewhere))
        # The sample /notify falls back to a DM when the channel refuses it.
        await fake.slash("notify", guild=elsewhere)
        await fake.wait_until(lambda: bot.seen)
        posted = await fake.wait_until(lambda: fake.dm_messages(fake.alice))
    assert posted[0].content == "done (by DM)"
    # Only the interaction's own messages ("on it", the follow-up) are there.
    for cid in (foreign, group):
        assert [m for m in fake.channel_messages(cid) if m.interaction_id is None] == []
    assert [m.content for m in fake.channel_messages(foreign)] == ["on it", "follow-up"]
    assert [e.code for e in bot.errors] == [50001]


async def test_user_install_interactions_take_at_most_five_followups(fake: FakeDiscord) -> None:
    elsewhere = fake.add_guild("Elsewhere", bot_member=False)
    bot = make_bot()
    async with run_bot(bot, fake):
        capped = await fake.slash("later", guild=elsewhere)
        free = await fake.slash("later")
        await fake.wait_until(lambda: len(bot.seen) == 2)
        for iid in (capped, free):
            hook = discord.Webhook.partial(
                int(fake.app_id), fake.interaction(iid).token, client=bot
            )
            for i in range(5):
                await hook.send(f"follow-up {i}", wait=True)
            if iid == capped:
                with pytest.raises(discord.HTTPException) as refused:
                    await hook.send("one too many", wait=True)
                assert refused.value.status == 400 and refused.value.code == 40094
            else:
                await hook.send("a guild install has no such cap", wait=True)
    assert len(fake.followups(capped)) == 5 and len(fake.followups(free)) == 6


async def test_a_component_carries_the_owners_of_its_message(fake: FakeDiscord) -> None:
    elsewhere = fake.add_guild("Elsewhere", bot_member=False)
    bot = make_bot()
    async with run_bot(bot, fake):
        image = fake.add_attachment(png(), "a.png")
        iid = await fake.slash("echo", {"image": image}, guild=elsewhere)
        reply = await fake.wait_until(lambda: (m := fake.original(iid)) and m.attachments and m)
        click = await fake.click(reply, "echo:invert", user=fake.bob)
        await fake.wait_until(lambda: "inverted by bob" in fake.messages[reply.id].content)
    owners = fake.interaction(click).payload["authorizing_integration_owners"]
    assert owners == {"1": fake.alice["id"]}  # alice's install, although bob pressed it


async def test_an_interaction_upload_limit_is_announced_and_enforced(fake: FakeDiscord) -> None:
    limit = 4000
    big, small = noisy_png(128), noisy_png(8)
    assert len(big) > limit >= len(small)
    bot = make_bot()
    async with run_bot(bot, fake):
        iid = await fake.slash("later", attachment_size_limit=limit)
        await fake.wait_until(lambda: bot.seen)
        hook = discord.Webhook.partial(int(fake.app_id), fake.interaction(iid).token, client=bot)
        with pytest.raises(discord.HTTPException) as refused:
            await hook.edit_message(
                "@original", attachments=[discord.File(io.BytesIO(big), filename="big.png")]
            )
        await hook.edit_message(
            "@original", attachments=[discord.File(io.BytesIO(small), filename="small.png")]
        )
        # A channel post is held to the fake-wide limit, not this interaction's.
        await bot.get_partial_messageable(int(fake.channel_id)).send(
            file=discord.File(io.BytesIO(big), filename="big.png")
        )
    assert fake.interaction(iid).payload["attachment_size_limit"] == limit
    assert refused.value.status == 413 and refused.value.code == 40005
    assert fake.original(iid).file(0) == small
    assert fake.channel_messages()[-1].file(0) == big
