"""The bad-input corpus through /stylize: each refused with its specific ephemeral message (or
accepted), nothing crashing, nothing queued for refusals."""

from __future__ import annotations

import pytest

from tests import badimages

GOOD = badimages.png(badimages.photo())

# case -> (bytes, declared content type, filename, expected code or None, words in the message)
CASES = {
    "text_renamed_png": (badimages.text_as_png(), "image/png", "cat.png", "not_an_image", "text"),
    "zero_bytes": (b"", "image/png", "empty.png", "empty", "empty"),
    "truncated_png": (badimages.truncated_png(), "image/png", "cut.png", "truncated", "corrupt"),
    "decompression_bomb": (
        badimages.decompression_bomb(),
        "image/png",
        "bomb.png",
        "too_many_pixels",
        "pixels",
    ),
    "extreme_aspect": (
        badimages.extreme_aspect(),
        "image/png",
        "long.png",
        "bad_aspect_ratio",
        "elongated",
    ),
    "svg": (badimages.svg(), "image/svg+xml", "logo.svg", "unsupported_format", "SVG"),
    "heic": (badimages.heic(), "image/heic", "IMG_0001.heic", "unsupported_format", "HEIC"),
    "heic_undeclared": (badimages.heic(), None, "photo.jpg", "unsupported_format", "HEIC"),
    "animated_gif": (badimages.animated_gif(), "image/gif", "anim.gif", None, ""),
    "cmyk_jpeg": (badimages.cmyk_jpeg(), "image/jpeg", "cmyk.jpg", None, ""),
    "png16": (badimages.png16(), "image/png", "deep.png", None, ""),
}


async def _error_text(env, iid) -> str:
    fake = env.fake
    msgs = await fake.wait_until(lambda: fake.followups(iid))
    return msgs[-1].content


@pytest.mark.parametrize("case", sorted(CASES))
async def test_bad_input_corpus(env, case):
    data, ctype, filename, code, words = CASES[case]
    fake = env.fake
    content = fake.add_attachment(data, filename, ctype)
    style = fake.add_attachment(GOOD, "style.png", "image/png")
    iid = await fake.slash("stylize", {"content": content, "style": style})
    assert fake.interaction(iid).acked_type == 5 or await fake.wait_until(
        lambda: fake.interaction(iid).acked_type == 5
    )
    if code is None:
        await fake.wait_until(
            lambda: (m := fake.original(iid)) is not None and "queued" in m.content
        )
        assert len(await env.store.active_jobs()) == 1
        assert env.errors == []
        return
    text = await _error_text(env, iid)
    assert fake.followups(iid)[-1].ephemeral
    assert words.lower() in text.lower(), text
    assert "content" in text
    assert "Traceback" not in text
    assert env.error_codes() == [code]
    assert await env.store.active_jobs() == []


async def test_declared_size_over_limit_never_downloads(env):
    fake = env.fake
    big = fake.add_attachment(GOOD, "huge.png", "image/png", declared_size=50_000_000)
    style = fake.add_attachment(GOOD, "style.png", "image/png")
    iid = await fake.slash("stylize", {"content": big, "style": style})
    text = await _error_text(env, iid)
    assert "50.0 MB" in text and "limit" in text
    assert env.error_codes() == ["too_large_bytes"]
    assert not [c for c in fake.calls if c.is_cdn and "huge.png" in c.path]


async def test_text_file_declared_as_text_is_refused_before_download(env):
    fake = env.fake
    notes = fake.add_attachment(b"hello", "notes.txt", "text/plain")
    style = fake.add_attachment(GOOD, "style.png", "image/png")
    iid = await fake.slash("stylize", {"content": notes, "style": style})
    text = await _error_text(env, iid)
    assert "not an image" in text
    assert not [c for c in fake.calls if c.is_cdn and "notes.txt" in c.path]


async def test_slow_cdn_times_out_with_a_message(fake_discord, store, tmp_path):
    from tests.bot.discord_bot.conftest import make_settings, started_bot

    settings = make_settings(tmp_path)
    fake = fake_discord
    slow = fake.add_attachment(GOOD, "slow.png", "image/png", delay_s=1)
    style = fake.add_attachment(GOOD, "style.png", "image/png")
    async with started_bot(fake, store, settings) as bot:
        bot.download_timeout_s = 0.2
        iid = await fake.slash("stylize", {"content": slow, "style": style})
        msgs = await fake.wait_until(lambda: fake.followups(iid))
        assert "took too long" in msgs[-1].content
