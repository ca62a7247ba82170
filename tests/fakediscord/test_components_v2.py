"""Self-tests of the fake's Components V2 support: what discord.py's LayoutView sends is
accepted, stored with its media resolved, and Discord's basic rules are enforced."""

from __future__ import annotations

import io

import discord
import pytest
from discord import ui

from tests.fakediscord import FakeDiscord, run_bot
from tests.fakediscord.components_v2 import FLAG_COMPONENTS_V2
from tests.fakediscord.sample_bot import make_bot, png
from tests.fakediscord.test_delivery import channel, raw

pytestmark = pytest.mark.timeout(30)


def layout(*items: ui.Item) -> ui.LayoutView:
    view = ui.LayoutView(timeout=None)
    for item in items:
        view.add_item(item)
    view.stop()
    return view


def file(data: bytes, name: str) -> discord.File:
    return discord.File(io.BytesIO(data), filename=name)


async def test_a_layout_view_with_a_gallery_is_stored_resolved(fake: FakeDiscord) -> None:
    red, blue = png((200, 0, 0)), png((0, 0, 200), size=32)
    gallery = ui.MediaGallery()
    gallery.add_item(media="attachment://red.png", description="the red one")
    gallery.add_item(media="attachment://blue.png", description="the blue one")
    card = ui.Container(ui.TextDisplay("hello **there**"), gallery)
    bot = make_bot()
    async with run_bot(bot, fake):
        sent = await channel(bot, fake.channel_id).send(
            view=layout(card), files=[file(red, "red.png"), file(blue, "blue.png")]
        )
    msg = fake.messages[str(sent.id)]
    assert msg.flags & FLAG_COMPONENTS_V2 and msg.content == "" and msg.embeds == []
    assert [c["type"] for c in msg.components] == [17]
    assert msg.gallery() == [("the red one", red), ("the blue one", blue)]
    item = msg.components[0]["components"][1]["items"][1]["media"]
    assert item["url"].startswith(fake.http_base + "/cdn/attachments/")  # resolved
    assert (item["width"], item["height"]) == (32, 32)
    assert "hello **there**" in msg.text() and "the blue one" in msg.text()
    (call,) = fake.find("POST", rf"/channels/{fake.channel_id}/messages")
    sent_item = call.json["components"][0]["components"][1]["items"][1]["media"]
    assert sent_item == {"url": "attachment://blue.png"}  # the record keeps what was sent
    # discord.py parsed the answer back into V2 components.
    assert sent.flags.components_v2 and sent.components[0].type == discord.ComponentType.container


async def test_content_or_embeds_with_the_flag_are_refused(fake: FakeDiscord) -> None:
    path = f"/channels/{fake.channel_id}/messages"
    text = {"type": 10, "content": "hi"}
    for extra in ({"content": "legacy"}, {"embeds": [{"title": "legacy"}]}):
        body = {"flags": FLAG_COMPONENTS_V2, "components": [text], **extra}
        status, answer = await raw(fake, "POST", path, body)
        assert (status, answer["code"]) == (400, 50035), extra
        assert set(answer["errors"]) == set(extra)
    status, _ = await raw(fake, "POST", path, {"flags": FLAG_COMPONENTS_V2, "components": [text]})
    assert status == 200


async def test_v2_components_need_the_flag_and_real_attachments(fake: FakeDiscord) -> None:
    path = f"/channels/{fake.channel_id}/messages"
    status, answer = await raw(fake, "POST", path, {"components": [{"type": 10, "content": "x"}]})
    assert (status, answer["code"]) == (400, 50035)
    assert "IS_COMPONENTS_V2" in str(answer["errors"])
    gallery = {"type": 12, "items": [{"media": {"url": "attachment://missing.png"}}]}
    status, answer = await raw(
        fake, "POST", path, {"flags": FLAG_COMPONENTS_V2, "components": [gallery]}
    )
    assert status == 400 and "missing.png" in str(answer["errors"])
    bad_section = {"type": 9, "components": [{"type": 10, "content": "x"}], "accessory": {}}
    empty_gallery = {"type": 12, "items": []}
    for bad in (bad_section, empty_gallery, {"type": 17, "components": []}, {"type": 11}):
        body = {"flags": FLAG_COMPONENTS_V2, "components": [bad]}
        status, answer = await raw(fake, "POST", path, body)
        assert (status, answer["code"]) == (400, 50035), bad


async def test_an_edit_can_set_the_flag_but_never_clear_it(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with run_bot(bot, fake):
        sent = await channel(bot, fake.channel_id).send("a classic message")
        # Turning it into a layout must clear the content, as on Discord.
        with pytest.raises(discord.HTTPException) as refused:
            await sent.edit(view=layout(ui.TextDisplay("now a layout")))
        assert refused.value.code == 50035
        await sent.edit(content=None, view=layout(ui.TextDisplay("now a layout")))
    msg = fake.messages[str(sent.id)]
    assert msg.flags & FLAG_COMPONENTS_V2 and msg.text() == "now a layout"
    status, _ = await raw(
        fake, "PATCH", f"/channels/{fake.channel_id}/messages/{sent.id}", {"flags": 0}
    )
    assert status == 200 and fake.messages[str(sent.id)].flags & FLAG_COMPONENTS_V2
