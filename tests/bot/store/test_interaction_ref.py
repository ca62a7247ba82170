"""What a job keeps of its interaction beyond the token: how the app was acting (a user
install that can't post in the channel) and the upload limit — stored on both backends and
kept after the token is wiped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store import InteractionRef, Store
from bot.store.types import InstallContext
from tests.bot.store.helpers import submit


async def test_install_context_and_upload_limit_round_trip(store: Store) -> None:
    now = datetime.now(UTC)
    ref = InteractionRef(
        application_id=7,
        token="s3cret-itok",
        expires_at=now + timedelta(minutes=15),
        install_context=InstallContext.USER,
        upload_limit=25 * 1024 * 1024,
    )
    user_job = await submit(store, 1, "u", interaction=ref)
    plain = InteractionRef(application_id=7, token="tok2", expires_at=now + timedelta(minutes=15))
    guild_job = await submit(store, 2, "g", guild=5, channel=6, interaction=plain)
    got = await store.get_job(user_job)
    assert got is not None and got.interaction is not None
    assert got.interaction.install_context is InstallContext.USER
    assert got.interaction.upload_limit == 25 * 1024 * 1024
    other = await store.get_job(guild_job)
    assert other is not None and other.interaction is not None
    assert other.interaction.install_context is None and other.interaction.upload_limit is None
    # Both outlive the token: delivery after 15 minutes still knows where it may post.
    await store.expire_interaction_tokens(now + timedelta(minutes=20))
    later = await store.get_job(user_job)
    assert later is not None and later.interaction is not None
    assert later.interaction.token is None
    assert later.interaction.install_context is InstallContext.USER
    assert later.interaction.upload_limit == 25 * 1024 * 1024
    shown = repr(got.interaction)  # masks the token, shows the rest
    assert "s3cret-itok" not in shown and "install_context=user" in shown
