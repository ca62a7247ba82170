"""The engine and transaction helpers (`bot.store.db`): secrets stay out of errors, one clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError

from bot.store import (
    Store,
)
from bot.store.models import JobRow


async def test_database_errors_never_show_tokens(store: Store) -> None:
    now = datetime.now(UTC)
    row = {
        "owner_id": 1, "status": "queued", "content_sha": "f" * 64, "size": 64,
        "preset": "fast", "style_strength": 1.0, "preserve_colors": False, "init": "content",
        "private": False, "dm_on_done": False, "attempts": 0, "crashes": 0,
        "created_at": now, "updated_at": now, "application_id": 1,
        "interaction_token": "tok-SECRET-123", "token_expires_at": now,
    }  # fmt: skip
    with pytest.raises(DBAPIError) as failed:  # content_sha names no image: FK violation
        async with store.write() as conn:
            await conn.execute(insert(JobRow).values(**row))
    assert "tok-SECRET" not in str(failed.value) and "tok-SECRET" not in repr(failed.value)


async def test_clock_is_aligned_to_the_server(store: Store) -> None:
    store.clock_offset = timedelta(hours=1)  # as if this host's clock were an hour behind
    offset = await store.sync_clock()
    if store.is_sqlite:
        assert offset == timedelta(hours=1)  # one file, one host: nothing to align
    else:
        assert abs(offset) < timedelta(seconds=5)  # same host as the server here
        assert abs(store.clock() - datetime.now(UTC)) < timedelta(seconds=5)
