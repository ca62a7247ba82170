"""Server styles in the store (SQLite and PostgreSQL): per-guild, limited, named from their
title, referenced by the orphan sweep, removed by `forget_user`."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.store import Store
from bot.store.styles import ServerStyleRefused, style_name
from tests.bot.store.helpers import TINY, blob

GUILD, OTHER_GUILD = 1001, 2002
ADMIN, OTHER_ADMIN, USER = 7, 8, 9


def test_names_are_made_from_titles():
    assert style_name("Monet's Water  Lilies!") == "monets-water-lilies"
    assert style_name("Café Terrace at Night") == "cafe-terrace-at-night"
    assert style_name("★★★") == ""
    assert len(style_name("x" * 80)) == 32


async def test_styles_belong_to_their_guild(store: Store):
    added = await store.add_server_style(GUILD, "Water Lilies", blob("lilies"), ADMIN)
    assert (added.name, added.title, added.added_by) == ("water-lilies", "Water Lilies", ADMIN)
    await store.add_server_style(GUILD, "Irises", blob("irises"), ADMIN)
    assert [s.name for s in await store.server_styles(GUILD)] == ["irises", "water-lilies"]
    assert await store.server_styles(OTHER_GUILD) == []
    assert await store.get_server_style(OTHER_GUILD, "irises") is None
    found = await store.get_server_style(GUILD, "water-lilies")
    assert found == added
    image = await store.get_image(found.image_sha)
    assert image is not None and image.data == blob("lilies").data


async def test_refusals(store: Store):
    await store.add_server_style(GUILD, "Irises", blob("irises"), ADMIN)
    with pytest.raises(ServerStyleRefused) as taken:
        await store.add_server_style(GUILD, "irises", blob("other"), OTHER_ADMIN)
    assert taken.value.code == "name_taken" and "`irises`" in taken.value.message
    # The same title is free in another guild.
    await store.add_server_style(OTHER_GUILD, "Irises", blob("other"), OTHER_ADMIN)
    with pytest.raises(ServerStyleRefused) as reserved:
        await store.add_server_style(GUILD, "Udnie", blob("u"), ADMIN, reserved={"udnie"})
    assert reserved.value.code == "name_taken" and "library" in reserved.value.message
    for bad in ("   ", "!!!", "x" * 101):
        with pytest.raises(ServerStyleRefused) as refused:
            await store.add_server_style(GUILD, bad, blob("b"), ADMIN)
        assert refused.value.code == "bad_title"


async def test_limit_per_guild(store: Store):
    for i in range(3):
        await store.add_server_style(GUILD, f"Style {i}", blob(f"s{i}"), ADMIN, limit=3)
    with pytest.raises(ServerStyleRefused) as full:
        await store.add_server_style(GUILD, "One more", blob("s3"), ADMIN, limit=3)
    assert full.value.code == "limit_reached" and "3 styles" in full.value.message
    assert len(await store.server_styles(GUILD)) == 3
    await store.remove_server_style(GUILD, "style-0")
    await store.add_server_style(GUILD, "One more", blob("s3"), ADMIN, limit=3)


async def test_remove_deletes_the_image_unless_a_job_uses_it(store: Store):
    unused = await store.add_server_style(GUILD, "Unused", blob("unused"), ADMIN)
    used = await store.add_server_style(GUILD, "Used", blob("used"), ADMIN)
    await store.submit(USER, GUILD, 1, blob("photo"), [(blob("used"), 1.0)], TINY)
    assert await store.remove_server_style(GUILD, "nope") is None
    assert (await store.remove_server_style(GUILD, "unused")) == unused
    assert await store.remove_server_style(GUILD, "used") == used
    assert await store.server_styles(GUILD) == []
    assert await store.get_image(unused.image_sha) is None
    assert await store.get_image(used.image_sha) is not None  # the job still needs it


async def test_the_orphan_sweep_keeps_a_styles_image(store: Store):
    style = await store.add_server_style(GUILD, "Kept", blob("kept"), ADMIN)
    loose = await store.put_image(b"nobody uses me", "png", 1, 1)
    later = store.clock() + timedelta(days=2)
    await store.purge(older_than_days=1, now=later)
    assert await store.get_image(loose) is None  # the sweep ran
    assert await store.get_image(style.image_sha) is not None


async def test_purging_a_job_keeps_the_style_it_used(store: Store):
    style = await store.add_server_style(GUILD, "Kept", blob("kept"), ADMIN)
    job = await store.submit(USER, GUILD, 1, blob("photo"), [(blob("kept"), 1.0)], TINY)
    claimed = await store.claim("w1")
    assert claimed is not None and claimed.job.id == job.id
    await store.fail(job.id, "w1", "test", "failed on purpose", token=claimed.token)
    result = await store.purge(older_than_days=1, now=store.clock() + timedelta(days=2))
    assert result.jobs == 1
    assert await store.get_image(style.image_sha) is not None


async def test_forget_removes_the_styles_the_user_added(store: Store):
    mine = await store.add_server_style(GUILD, "Mine", blob("mine"), ADMIN)
    theirs = await store.add_server_style(GUILD, "Theirs", blob("theirs"), OTHER_ADMIN)
    # Another user's job made from the admin's style counts as made from the admin's image.
    style = replace(blob("mine"), source_user_id=ADMIN)
    job = await store.submit(USER, GUILD, 1, blob("photo"), [(style, 1.0)], TINY)
    result = await store.forget_user(ADMIN)
    assert result.jobs == 1 and await store.get_job(job.id) is None
    assert [s.name for s in await store.server_styles(GUILD)] == [theirs.name]
    assert await store.get_image(mine.image_sha) is None
    assert await store.get_image(theirs.image_sha) is not None
