"""Fixtures shared by the bot's test packages."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store import migrate


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated, empty SQLite database file in the test's tmp_path."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    migrate(url)
    return url
