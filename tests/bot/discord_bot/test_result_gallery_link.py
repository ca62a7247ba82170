"""A public result posted in a server whose gallery is on links to its page there, when the web
face has a public address (WEB_PUBLIC_URL); a private result of the same server does not."""

from __future__ import annotations

import pytest

from tests.bot.discord_bot.conftest import make_settings
from tests.bot.discord_bot.test_buttons import result_png
from tests.bot.discord_bot.test_stylize_flow import queued_card, submit

URL = "https://nst.example"


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path, web_public_url=URL)


async def _result_text(env, iid) -> str:
    await queued_card(env, iid)
    job = (await env.store.claim("w1")).job
    await env.store.complete(job.id, "w1", result_png(), 64, 48, 0.1)
    final = await env.fake.wait_until(
        lambda: (m := env.fake.original(iid)) and "ready" in m.text() and m
    )
    return job.id, final.text()


async def test_a_public_result_links_to_the_gallery_and_a_private_one_does_not(env):
    guild = env.fake.guild_id
    await env.store.set_gallery(guild, True)
    job_id, text = await _result_text(env, await submit(env))
    assert f"({URL}/g/{guild}/{job_id})" in text
    job_id, text = await _result_text(env, await submit(env, private=True))
    assert "/g/" not in text
    await env.store.set_gallery(guild, False)
    job_id, text = await _result_text(env, await submit(env))
    assert "/g/" not in text
