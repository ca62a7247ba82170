"""Components V2 through the real bot and the fake Discord: the result shows the pastiche with
its content and style side by side, `/history` pages are galleries of up to ten results, and
queue cards say what is known instead of a bare "ETA ?"."""

from __future__ import annotations

import io

from PIL import Image

from bot.discord_bot.progress import QUEUE_UNTIMED, RUN_UNTIMED, format_duration
from bot.discord_bot.result_post import ShownResult
from bot.discord_bot.thumbs import HISTORY_THUMB_PX, SIDE_IMAGE_PX, Tile
from bot.discord_bot.uploads import Upload
from bot.store import Viewer
from tests.bot.discord_bot.test_buttons import result_png
from tests.bot.discord_bot.test_commands import answer, finish_all
from tests.bot.discord_bot.test_stylize_flow import queued_card, submit
from tests.fakediscord.components_v2 import FLAG_COMPONENTS_V2


def image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


async def finished_result(env, iid, job_id, result: bytes):
    await env.store.complete(job_id, "w1", result, 64, 48, 2.5, notes=["a test note"])
    return await env.fake.wait_until(
        lambda: (m := env.fake.original(iid)) and "ready" in m.text() and m
    )


async def test_the_result_shows_pastiche_content_and_style_side_by_side(env):
    iid = await submit(env)
    await queued_card(env, iid)
    job = (await env.store.claim("w1")).job
    result = result_png((64, 48))
    final = await finished_result(env, iid, job.id, result)
    assert final.flags & FLAG_COMPONENTS_V2 and final.content == "" and final.embeds == []
    tiles = final.gallery()
    assert [text for text, _ in tiles] == [f"Pastiche #{job.id}", "Content photo", "Style"]
    assert tiles[0][1] == result  # the pastiche itself, byte for byte
    content, style = image(tiles[1][1]), image(tiles[2][1])
    assert (content.format, content.size) == ("JPEG", (64, 48))  # small inputs stay as large
    assert (style.format, style.size) == ("JPEG", (48, 64))
    names = sorted(a["filename"] for a in final.attachments)
    assert names == sorted(
        f"{k}-{job.id}.{e}" for k, e in (("pastiche", "png"), ("content", "jpg"), ("style", "jpg"))
    )
    text = final.text()
    assert "64 px" in text and "fast" in text and "took 2s" in text and "a test note" in text
    # The side images were made once and kept in the store's thumbnail cache.
    assert await env.store.get_thumbnail(job.content_sha, SIDE_IMAGE_PX) is not None


async def test_a_channel_post_is_a_layout_that_names_the_owner(env):
    fake = env.fake
    iid = await submit(env)
    await queued_card(env, iid)
    fake.expire_token(fake.interaction(iid).token)
    job = (await env.store.claim("w1")).job
    await env.store.complete(job.id, "w1", result_png(), 64, 48, 0.1)
    (post,) = await fake.wait_until(
        lambda: [m for m in fake.channel_messages() if f"Pastiche #{job.id}" in m.text()]
    )
    assert post.flags & FLAG_COMPONENTS_V2 and post.content == ""
    assert post.text().startswith(f"<@{fake.alice['id']}> ✅")
    assert post.nonce == f"nst{job.id}c"  # exactly-once delivery keeps its nonce
    assert len(post.gallery()) == 3
    assert f"nst:delete:{job.id}:{fake.alice['id']}" in post.custom_ids()


def test_side_images_give_way_when_the_limit_drops():
    small, large = (Tile(Upload(b"x" * n, f"{n}.jpg"), "side") for n in (100, 5000))
    result = ShownResult(b"p" * 50, "pastiche-1", 10_000, [small, large])
    assert result.fitting_sides() == [small, large]
    result.limit = 1000  # what `shrink` does after a 413
    assert result.fitting_sides() == [small]


async def test_history_pages_are_galleries_of_ten_with_numbers_and_settings(env):
    fake = env.fake
    alice = int(fake.alice["id"])
    for _ in range(12):
        await queued_card(env, await submit(env, user=fake.alice))
        await finish_all(env)
    jobs = await env.store.history(alice, Viewer(alice), limit=50)  # newest first
    page = await answer(fake, await fake.slash("history", {}, user=fake.alice), "page 1")
    assert page.flags & FLAG_COMPONENTS_V2
    tiles = page.gallery()
    assert [text.split(" · ")[0] for text, _ in tiles] == [f"#{j.id}" for j in jobs[:10]]
    assert all("64 px · fast" in text for text, _ in tiles)
    assert all(max(image(data).size) <= HISTORY_THUMB_PX for _, data in tiles)
    assert all(f"#{j.id} — succeeded" in page.text() for j in jobs[:10])
    assert page.custom_ids() == [f"nst:history:{alice}:10"]
    await fake.click(page, f"nst:history:{alice}:10", user=fake.alice)
    second = await fake.wait_until(lambda: "page 2" in (m := fake.messages[page.id]).text() and m)
    assert [text.split(" · ")[0] for text, _ in second.gallery()] == [f"#{j.id}" for j in jobs[10:]]
    assert len(second.attachments) == 2  # the page's own tiles replaced the first page's
    assert second.custom_ids() == [f"nst:history:{alice}:0"]  # Previous only


async def test_queue_cards_say_what_is_known_instead_of_a_bare_eta(env):
    fake = env.fake
    first = await queued_card(env, await submit(env))
    assert f"Position **1** of 1 — {QUEUE_UNTIMED}" in first.content
    assert "ETA ?" not in first.content
    job = (await env.store.claim("w1")).job
    await env.store.report_progress(job.id, "w1", scale=1, scales=1, step=1, total=10, eta_s=None)
    running = await fake.wait_until(
        lambda: (m := fake.messages[first.id]) and "10%" in m.content and m
    )
    assert RUN_UNTIMED in running.content and "ETA ?" not in running.content
    await env.store.complete(job.id, "w1", result_png(), 64, 48, 125.0)
    second = await queued_card(env, await submit(env))
    info = await env.store.queue_info((await env.store.active_jobs())[0].id)
    assert f"Position **1** of 1 · ETA {format_duration(info.eta_s)}" in second.content
    queue = await answer(fake, await fake.slash("queue", {}, user=fake.alice), "Position")
    assert f"Position **1** of 1 · ETA {format_duration(info.eta_s)}" in queue.content
    assert "ETA ?" not in queue.content
