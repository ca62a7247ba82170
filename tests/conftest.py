"""Shared fixtures: small real images, and the PostgreSQL server that CI provides."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURE_IMAGES = Path(__file__).parent / "fixtures" / "images"
REQUIRE_POSTGRES = os.environ.get("NST_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def fixture_images() -> Path:
    """Folder of small (≤256 px) copies of the classic style-transfer inputs."""
    return FIXTURE_IMAGES


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """SQLAlchemy URL of a PostgreSQL server; CI starts one and makes its absence a failure."""
    url = os.environ.get("NST_TEST_POSTGRES_URL")
    if not url:
        if REQUIRE_POSTGRES:
            pytest.fail("NST_REQUIRE_POSTGRES=1 but NST_TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL server: set NST_TEST_POSTGRES_URL (CI does)")
    return url


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
