"""The per-command upload limit: the interaction's `attachment_size_limit` is stored with the
job and every preview and result upload fits it — through the interaction, and in the channel
after a bot restart (the limit comes from the store, not the process's memory)."""

from __future__ import annotations

import io

import discord
import pytest
from PIL import Image

from bot.discord_bot.uploads import fit_upload, upload_limit
from bot.store import ImageBlob, JobParams, Store
from tests.bot.discord_bot.conftest import BotEnv, started_bot
from tests.bot.discord_bot.test_stylize_flow import png
from tests.fakediscord import FakeDiscord

pytestmark = pytest.mark.timeout(60)

LIMIT = 24_000  # far below Discord's default: only a bot that reads it stays under it


def noisy(side: int, fmt: str) -> bytes:
    """An image that barely compresses, well over LIMIT at 256 px."""
    buf = io.BytesIO()
    Image.effect_noise((side, side), 90).convert("RGB").save(buf, format=fmt, quality=95)
    return buf.getvalue()


async def stylize_with_limit(env: BotEnv, limit: int) -> str:
    fake = env.fake
    content = fake.add_attachment(png(), "cat.png", "image/png")
    style = fake.add_attachment(png((48, 64)), "style.png", "image/png")
    opts = {"content": content, "style": style}
    return await fake.slash("stylize", opts, attachment_size_limit=limit)


def uploads_of(fake: FakeDiscord) -> list[int]:
    """Sizes of every file the bot uploaded anywhere."""
    return [len(f.data) for c in fake.calls for f in c.files]


async def queued(env: BotEnv, iid: str):
    await env.fake.wait_until(lambda: (m := env.fake.original(iid)) and not m.loading and m)
    (job,) = await env.fake.wait_until(env.store.active_jobs)
    return job


async def test_preview_and_result_fit_the_interactions_limit(env: BotEnv) -> None:
    fake = env.fake
    iid = await stylize_with_limit(env, LIMIT)
    job = await queued(env, iid)
    assert job.interaction.upload_limit == LIMIT  # stored with the job
    await env.store.claim("w1")
    preview = noisy(200, "JPEG")
    assert len(preview) > LIMIT
    await env.store.report_progress(
        job.id, "w1", scale=1, scales=1, step=5, total=10, eta_s=1.0, preview_jpeg=preview
    )
    await fake.wait_until(
        lambda: any(a["filename"].startswith("preview-") for a in fake.original(iid).attachments)
    )
    result = noisy(256, "PNG")
    assert len(result) > LIMIT
    await env.store.complete(job.id, "w1", result, 256, 256, 0.1)
    (delivery,) = await fake.wait_until(
        lambda: fake.result_messages(rf"pastiche-{job.id}\.", has_files=True), timeout=10
    )
    assert delivery.where == "original"
    sizes = uploads_of(fake)
    assert sizes and max(sizes) <= LIMIT
    assert not [c for c in fake.calls if c.status == 413]  # fitted before sending, not after


async def test_the_stored_limit_holds_after_a_restart_for_a_channel_post(
    fake_discord: FakeDiscord, store: Store, settings
) -> None:
    fake = fake_discord
    async with started_bot(fake, store, settings) as bot:
        env = BotEnv(fake, bot, store, settings)
        iid = await stylize_with_limit(env, LIMIT)
        job = await queued(env, iid)
    # A new bot process, the token gone: the channel gets the result, still within the limit
    # (the fake lets a channel post carry up to 10 MiB: only the stored limit keeps it small).
    fake.expire_token(iid)
    await store.claim("w1")
    await store.complete(job.id, "w1", noisy(256, "PNG"), 256, 256, 0.1)
    async with started_bot(fake, store, settings):
        (delivery,) = await fake.wait_until(
            lambda: fake.result_messages(rf"pastiche-{job.id}\.", has_files=True), timeout=10
        )
    assert delivery.where == "channel"
    posted = [len(f.data) for f in fake.find("POST", r"/channels/\d+/messages")[-1].files]
    assert posted and max(posted) <= LIMIT


async def test_a_job_without_a_known_limit_uses_discords_default(store: Store) -> None:
    image = ImageBlob(png(), "png", 64, 48)
    job = await store.submit(1, None, None, image, [(image, 1.0)], JobParams(size=64))
    assert job.interaction is None  # made outside Discord (the CLI, the web playground)
    assert upload_limit(job) == discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES


def test_an_image_that_fits_keeps_its_format_and_one_that_does_not_becomes_a_jpeg() -> None:
    jpeg, png_bytes = noisy(64, "JPEG"), noisy(128, "PNG")
    assert fit_upload(jpeg, len(jpeg), "p").filename == "p.jpg"
    assert fit_upload(png_bytes, len(png_bytes), "p").filename == "p.png"
    shrunk = fit_upload(png_bytes, 8_000, "p")
    assert shrunk.filename == "p.jpg" and len(shrunk.data) <= 8_000
