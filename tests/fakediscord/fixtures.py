"""pytest fixtures; other test packages import them into their conftest.py:

from tests.fakediscord.fixtures import fake_discord  # noqa: F401
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .harness import redirect_discord_py
from .server import FakeDiscord


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started FakeDiscord with discord.py redirected to it for the test's duration."""
    async with FakeDiscord() as fake:
        with redirect_discord_py(fake):
            yield fake
