"""Store fixtures: a migrated database on SQLite (file in tmp_path) and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.store import Store, migrate
from tests.bot.store.pg import fresh_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty, migrated database of each backend."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_url")
        return
    server = request.getfixturevalue("postgres_url")
    with fresh_database(server) as url:
        migrate(url)
        yield url


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    s = await Store.open(db_url, per_user_queue_limit=3, global_queue_limit=50)
    yield s
    await s.close()
