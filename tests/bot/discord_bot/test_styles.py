"""The style library through the real bot and the fake Discord: `/stylize style_name:` with
its autocomplete, `/styles`, server styles added and removed with `/config`, and `/forget`."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from bot import styles as library
from bot.discord_bot.styles import SERVER_PREFIX
from bot.executor.supervisor import Supervisor
from bot.store import DeliveryState, JobStatus
from bot.store.styles import SERVER_STYLE_LIMIT, TITLE_MAX
from tests.bot.discord_bot.test_commands import answer
from tests.bot.discord_bot.test_stylize_flow import png, queued_card

STARRY = library.find("starry-night")


async def choices(fake, typed, *, command="stylize", option="style_name", **where):
    iid = await fake.autocomplete(command, {option: typed}, focused=option, **where)
    return await fake.wait_until(lambda: fake.interaction(iid).choices is not None and iid)


def values(fake, iid):
    return [c["value"] for c in fake.interaction(iid).choices]


async def error_text(env, iid):
    msgs = await env.fake.wait_until(lambda: env.errors and env.fake.followups(iid))
    return msgs[-1].content


async def add_style(env, admin, title, *, guild=None):
    fake = env.fake
    att = fake.add_attachment(png((40, 56)), f"{title}.png", "image/png")
    iid = await fake.slash(
        "config", {"add_style": att, "style_title": title}, user=admin, guild=guild
    )
    return await answer(fake, iid, "Server styles:")


async def test_autocomplete_lists_the_library_and_matches_name_title_or_artist(env):
    fake = env.fake
    every = await choices(fake, "")
    assert values(fake, every) == [s.name for s in library.library()]
    names = [c["name"] for c in fake.interaction(every).choices]
    assert "The Starry Night — Vincent van Gogh, 1889" in names
    assert values(fake, await choices(fake, "GOGH")) == ["starry-night"]  # artist
    assert values(fake, await choices(fake, "wave off")) == ["great-wave"]  # title
    assert values(fake, await choices(fake, "udn")) == ["udnie"]  # name
    assert values(fake, await choices(fake, "rembrandt")) == []


async def test_stylize_by_style_name_queues_the_bundled_painting(env):
    fake = env.fake
    content = fake.add_attachment(png(), "cat.png", "image/png")
    iid = await fake.slash("stylize", {"content": content, "style_name": "starry-night"})
    await queued_card(env, iid)
    (job,) = await env.store.active_jobs()
    ((sha, weight),) = job.styles
    assert sha == hashlib.sha256(STARRY.image_bytes()).hexdigest() and weight == 1.0
    stored = await env.store.get_image(sha)
    assert (stored.width, stored.height) == STARRY.image_size()
    assert job.style_source_ids == (job.owner_id,)  # counted as the owner's, for /forget
    # Typed text that names exactly one painting works too.
    again = await fake.slash("stylize", {"content": content, "style_name": "Hokusai"})
    await queued_card(env, again)
    styles = {j.styles[0][0] for j in await env.store.active_jobs()}
    wave = library.find("great-wave")
    assert hashlib.sha256(wave.image_bytes()).hexdigest() in styles


async def test_exactly_one_style_is_needed(env):
    fake = env.fake
    content = fake.add_attachment(png(), "cat.png", "image/png")
    style = fake.add_attachment(png(), "style.png", "image/png")
    both = await fake.slash("stylize", {"content": content, "style": style, "style_name": "udnie"})
    assert "not both" in await error_text(env, both)
    env.errors.clear()
    neither = await fake.slash("stylize", {"content": content})
    assert "Which style?" in await error_text(env, neither)
    assert env.error_codes() == ["bad_params"]
    assert await env.store.active_jobs() == []
    assert not [c for c in fake.calls if c.is_cdn]  # refused before any download


async def test_an_unknown_name_is_refused_before_any_download(env):
    fake = env.fake
    content = fake.add_attachment(png(), "cat.png", "image/png")
    iid = await fake.slash("stylize", {"content": content, "style_name": "mona-lisa"})
    text = await error_text(env, iid)
    assert "no style called `mona-lisa`" in text and "/styles" in text
    assert env.error_codes() == ["unknown_style"]
    assert not [c for c in fake.calls if c.is_cdn]
    env.errors.clear()
    vague = await fake.slash("stylize", {"content": content, "style_name": "the"})
    assert "matches several styles" in await error_text(env, vague)


async def test_a_server_style_is_offered_and_used_in_its_server_only(env):
    fake = env.fake
    admin = fake.add_user("ada", admin=True)
    reply = await add_style(env, admin, "Water Lilies")
    assert "Added the server style **Water Lilies**" in reply.text()
    assert "Server styles: 1 of 25" in reply.text()
    (style,) = await env.store.server_styles(int(fake.guild_id))
    assert style.added_by == int(admin["id"])
    here = await choices(fake, "lil")
    assert values(fake, here) == [SERVER_PREFIX + "water-lilies"]
    assert fake.interaction(here).choices[0]["name"] == "Water Lilies (this server)"
    assert values(fake, await choices(fake, "server:water")) == [SERVER_PREFIX + "water-lilies"]
    other = fake.add_guild("elsewhere")
    assert values(fake, await choices(fake, "lil", guild=other)) == []
    assert SERVER_PREFIX + "water-lilies" not in values(fake, await choices(fake, "", dm=True))

    content = fake.add_attachment(png(), "cat.png", "image/png")
    iid = await fake.slash("stylize", {"content": content, "style_name": "server:water-lilies"})
    await queued_card(env, iid)
    (job,) = await env.store.active_jobs()
    assert job.styles[0][0] == style.image_sha
    assert job.style_source_ids == (style.added_by,)  # the admin's image
    refused = await fake.slash(
        "stylize", {"content": content, "style_name": "server:water-lilies"}, guild=other
    )
    assert "no style called" in await error_text(env, refused)


async def test_config_refuses_a_bad_image_and_removes_styles(env):
    fake = env.fake
    admin = fake.add_user("ada", admin=True)
    bad = fake.add_attachment(b"not an image at all", "notes.png", "image/png")
    iid = await fake.slash("config", {"add_style": bad, "style_title": "Notes"}, user=admin)
    text = await error_text(env, iid)
    assert "style image can't be used" in text
    assert await env.store.server_styles(int(fake.guild_id)) == []
    env.errors.clear()
    taken = fake.add_attachment(png(), "u.png", "image/png")
    iid = await fake.slash("config", {"add_style": taken, "style_title": "Udnie"}, user=admin)
    assert "bot's own library" in await error_text(env, iid)
    env.errors.clear()
    denied = fake.add_attachment(png(), "x.png", "image/png")
    await fake.slash("config", {"add_style": denied}, user=fake.bob)
    await fake.wait_until(lambda: env.errors)
    assert env.error_codes() == ["missing_permissions"]

    await add_style(env, admin, "Irises")
    listed = await choices(fake, "", command="config", option="remove_style", user=admin)
    assert values(fake, listed) == ["irises"]
    iid = await fake.slash("config", {"remove_style": "irises"}, user=admin)
    reply = await answer(fake, iid, "Server styles:")
    assert "Removed the server style **Irises**" in reply.text() and "0 of 25" in reply.text()
    assert await env.store.server_styles(int(fake.guild_id)) == []


async def test_styles_shows_the_gallery_and_this_servers_styles(env):
    fake = env.fake
    admin = fake.add_user("ada", admin=True)
    await add_style(env, admin, "Water Lilies")
    iid = await fake.slash("styles", {})
    msg = await answer(fake, iid, "Style library")
    assert msg.ephemeral
    *paintings, own = msg.embeds
    assert [e["title"] for e in paintings] == [s.title for s in library.library()]
    assert [a["filename"] for a in msg.attachments] == [s.file for s in library.library()]
    assert [e["image"]["url"] for e in paintings] == [
        f"attachment://{s.file}" for s in library.library()
    ]
    assert msg.file(0) == library.library()[0].image_bytes()
    assert own["title"] == "This server's own styles"
    assert own["description"] == "**Water Lilies** — `server:water-lilies`"
    elsewhere = await answer(fake, await fake.slash("styles", {}, dm=True), "Style library")
    assert len(elsewhere.embeds) == len(library.library())  # no server styles in a DM


async def test_forget_removes_the_styles_the_admin_added(env):
    fake = env.fake
    admin = fake.add_user("ada", admin=True)
    await add_style(env, admin, "Water Lilies")
    ask = await fake.slash("forget", {}, user=admin)
    prompt = await answer(fake, ask, "can't be undone")
    await fake.click(prompt, f"nst:forget:{admin['id']}", user=admin)
    await fake.wait_until(lambda: "deleted" in fake.messages[prompt.id].content)
    assert await env.store.server_styles(int(fake.guild_id)) == []
    assert values(fake, await choices(fake, "lil")) == []


@pytest.mark.slow
async def test_a_job_by_style_name_runs_to_a_result_with_a_real_executor(env):
    fake = env.fake
    sup = Supervisor(env.settings, 1, store=env.store, grace_s=5, requeue_interval_s=0.5)
    await sup.start()
    try:
        content = fake.add_attachment(png(), "cat.png", "image/png")
        iid = await fake.slash("stylize", {"content": content, "style_name": "the-scream"})
        await queued_card(env, iid)
        (queued,) = await env.store.active_jobs()

        async def delivered():
            job = await env.store.get_job(queued.id)
            return (
                job.delivery.state in (DeliveryState.DELIVERED, DeliveryState.UNDELIVERABLE) and job
            )

        job = await fake.wait_until(delivered, timeout=300, what="the result's delivery")
    finally:
        await sup.stop()
    assert job.status == JobStatus.SUCCEEDED and job.delivery.state == DeliveryState.DELIVERED
    final = fake.original(iid)
    files = [final.file(i) for i in range(len(final.attachments))]
    assert any(f.startswith(b"\x89PNG") for f in files)  # the pastiche


async def test_styles_fits_a_server_with_the_most_styles_and_longest_titles(env):
    fake = env.fake
    guild = int(fake.guild_id)
    blob = library.find("udnie").blob()
    for i in range(SERVER_STYLE_LIMIT):
        title = f"{i:02d} " + "Wasserlilien im Abendlicht " * 4
        art = replace(blob, data=blob.data + bytes([i]))  # distinct images
        await env.store.add_server_style(guild, title[:TITLE_MAX], art, int(fake.owner["id"]))
    msg = await answer(fake, await fake.slash("styles", {}), "Style library")
    assert msg.embeds[-1]["description"].count("`server:") == SERVER_STYLE_LIMIT
    listed = await choices(fake, "")
    assert len(fake.interaction(listed).choices) == 25  # Discord's cap
