"""The owner's Delete button on a result: only the owner may press it, it deletes just the
message (a channel post or the interaction response), and records nothing."""

from __future__ import annotations

from bot.discord_bot.delete_button import NOT_OWNER
from tests.bot.discord_bot.test_buttons import reply_text, result_png
from tests.bot.discord_bot.test_stylize_flow import queued_card, submit

DELETE_ORIGINAL = r"/webhooks/\d+/[^/]+/messages/@original"


async def delivered(env, *, expire: bool):
    """A finished job's result message (a channel post when `expire`, else the response)."""
    fake = env.fake
    iid = await submit(env)
    await queued_card(env, iid)
    if expire:
        fake.expire_token(fake.interaction(iid).token)
    job = (await env.store.claim("w1")).job
    await env.store.complete(job.id, "w1", result_png(), 64, 48, 0.1)
    msg = await fake.wait_until(
        lambda: [m for m in fake.messages.values() if f"Pastiche #{job.id}" in m.text()]
    )
    await fake.wait_until(lambda: env.bot.watcher.deliveries, timeout=10)
    return await env.store.get_job(job.id), msg[0]


async def test_the_owner_deletes_the_result_posted_in_the_channel(env):
    fake = env.fake
    job, post = await delivered(env, expire=True)
    assert job.delivered_via == "channel"
    press = await fake.click(post, f"nst:delete:{job.id}:{job.owner_id}", user=fake.alice)
    await fake.wait_until(lambda: fake.messages[post.id].deleted)
    # Deleted through the press's own interaction: it acknowledged as an update, so its
    # @original is the message the button is on.
    assert fake.interaction(press).acked_type == 6
    assert fake.find("DELETE", DELETE_ORIGINAL)
    assert await env.store.get_job(job.id) == job  # nothing else recorded or changed
    assert env.errors == []


async def test_someone_else_is_refused_and_the_message_stays(env):
    fake = env.fake
    job, post = await delivered(env, expire=True)
    press = await fake.click(post, f"nst:delete:{job.id}:{job.owner_id}", user=fake.bob)
    assert await reply_text(fake, press) == NOT_OWNER
    assert fake.original(press).ephemeral
    assert not fake.messages[post.id].deleted and fake.find("DELETE", ".*") == []
    # A crafted button naming bob as the owner of alice's job fails the same way for
    # alice: the owner in the custom id is the one who may delete.
    crafted = await fake.press(f"nst:delete:{job.id}:{fake.bob['id']}", user=fake.alice)
    assert await reply_text(fake, crafted) == NOT_OWNER


async def test_the_owner_deletes_a_result_shown_in_the_interaction_response(env):
    fake = env.fake
    job, original = await delivered(env, expire=False)
    assert job.delivered_via == "interaction" and original.interaction_id is not None
    await fake.click(original, f"nst:delete:{job.id}:{job.owner_id}", user=fake.alice)
    await fake.wait_until(lambda: fake.messages[original.id].deleted)
    assert await env.store.get_job(job.id) == job
