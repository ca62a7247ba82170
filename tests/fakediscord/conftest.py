"""Fixtures for the fake's self-tests (other packages import `fake_discord` the same way)."""

import pytest

from tests.fakediscord.fixtures import fake_discord  # noqa: F401
from tests.fakediscord.server import FakeDiscord


@pytest.fixture
def fake(fake_discord: FakeDiscord) -> FakeDiscord:  # noqa: F811 - a short alias
    return fake_discord
