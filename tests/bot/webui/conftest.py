"""A web app with the playground mounted on a real (migrated) SQLite store, and helpers."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from bot.settings import Settings
from bot.store import Store
from bot.web import create_app
from tests import badimages


def web_settings(tmp_path: Path, url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "data_dir": tmp_path / "data",
        "default_size": 64,
        "max_size": 256,
        "default_preset": "fast",
        "cooldown_s": 0,
        "per_user_queue_limit": 3,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def png_bytes(size: tuple[int, int] = (64, 48), colour: int = 0) -> bytes:
    img = badimages.photo(size)
    if colour:
        img = Image.eval(img, lambda v: (v + colour) % 256)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match, html[:2000]
    return match.group(1)


def form(
    csrf: str | None,
    *,
    content: tuple[bytes, str, str] | None = None,
    style: tuple[bytes, str, str] | None = None,
    **fields: str,
) -> aiohttp.FormData:
    """The playground form: (data, filename, content type) per file, text fields as given."""
    data = aiohttp.FormData()
    if csrf is not None:
        data.add_field("csrf", csrf)
    for name, value in {"size": "64", "preset": "fast", "strength": "1", **fields}.items():
        data.add_field(name, value)
    content = content or (png_bytes(), "photo.png", "image/png")
    style = style or (png_bytes((48, 48), 90), "style.png", "image/png")
    for name, (body, filename, ctype) in (("content", content), ("style", style)):
        data.add_field(name, body, filename=filename, content_type=ctype)
    return data


@pytest.fixture
async def make_web(
    tmp_path: Path, sqlite_url: str
) -> AsyncIterator[Callable[..., Awaitable[tuple[Store, Callable[[], Awaitable[TestClient]]]]]]:
    """make_web(**settings) -> (store, new_client): each client is a separate browser."""
    stores: list[Store] = []
    clients: list[TestClient] = []
    servers: list[TestServer] = []

    async def make(**overrides: Any):
        settings = web_settings(tmp_path, sqlite_url, **overrides)
        store = await Store.from_settings(settings)
        stores.append(store)
        server = TestServer(create_app(store, settings=settings))
        await server.start_server()
        servers.append(server)

        async def new_client() -> TestClient:
            client = TestClient(server)
            await client.start_server()
            clients.append(client)
            return client

        return store, new_client

    yield make
    for client in clients:
        await client.close()
    for server in servers:
        await server.close()
    for store in stores:
        await store.close()
