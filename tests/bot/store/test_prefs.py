"""Per-user defaults and per-guild rules (`bot.store.prefs`), both backends."""

from __future__ import annotations

import pytest

from bot.store import (
    Store,
)


async def test_user_settings_round_trip(store: Store) -> None:
    assert (await store.get_user_settings(1)).size is None
    saved = await store.set_user_settings(1, size=768, private=True)
    assert (saved.size, saved.private, saved.dm_on_done) == (768, True, None)
    saved = await store.set_user_settings(1, size=None, dm_on_done=True)
    assert (saved.size, saved.private, saved.dm_on_done) == (None, True, True)
    with pytest.raises(TypeError):
        await store.set_user_settings(1, colour="red")
    await store.set_user_settings(2, private=False)
    await store.set_user_settings(3, private=True)
    assert await store.users_with_private_default() == {1, 3}
    await store.forget_user(3)
    assert await store.users_with_private_default() == {1}
