"""Attachment intake against a real local HTTP server serving the bad-input corpus."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.discord_bot.errors import InputRejected
from bot.discord_bot.validation import fetch_image, precheck
from tests import badimages


@dataclass
class Att:
    filename: str
    size: int
    url: str
    content_type: str | None = "image/png"


@pytest.fixture
async def cdn():
    files: dict[str, bytes] = {}
    hits: list[str] = []

    async def serve(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        hits.append(name)
        return web.Response(body=files[name], content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/cdn/{name}", serve)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield server, files, hits, session
    await server.close()


def _att(server, files, name, data, content_type="image/png", size=None, filename=None):
    files[name] = data
    return Att(
        filename or name,
        len(data) if size is None else size,
        str(server.make_url(f"/cdn/{name}")),
        content_type,
    )


@pytest.mark.parametrize("case", sorted(badimages.CORPUS))
async def test_corpus(cdn, case):
    server, files, _, session = cdn
    data, code = badimages.CORPUS[case]
    att = _att(server, files, case, data, size=len(data) or 0)
    if code is None:
        img = await fetch_image(
            session, att, role="content", max_bytes=10_000_000, max_pixels=40_000_000
        )
        assert img.width >= 16 and img.height >= 16
        assert img.data
    else:
        with pytest.raises(InputRejected) as info:
            await fetch_image(
                session, att, role="content", max_bytes=10_000_000, max_pixels=40_000_000
            )
        assert info.value.code == code
        assert "content" in info.value.message


async def test_declared_size_over_limit_is_refused_before_download(cdn):
    server, files, hits, session = cdn
    att = _att(server, files, "big.png", badimages.png(badimages.photo()), size=50_000_000)
    with pytest.raises(InputRejected) as info:
        await fetch_image(session, att, role="style", max_bytes=10_000_000, max_pixels=10**7)
    assert info.value.code == "too_large_bytes"
    assert "50.0 MB" in info.value.message
    assert hits == []


async def test_lying_declared_size_stops_at_the_cap(cdn):
    server, files, hits, session = cdn
    att = _att(server, files, "liar.png", b"\x89PNG" + b"\0" * 200_000, size=1000)
    with pytest.raises(InputRejected) as info:
        await fetch_image(session, att, role="style", max_bytes=100_000, max_pixels=10**7)
    assert info.value.code == "too_large_bytes"
    assert hits == ["liar.png"]


@pytest.mark.parametrize(
    ("content_type", "filename", "code", "word"),
    [
        ("image/svg+xml", "logo.svg", "unsupported_format", "SVG"),
        (None, "IMG_0001.HEIC", "unsupported_format", "HEIC"),
        ("image/heic", "photo.jpg", "unsupported_format", "HEIC"),
        ("text/plain", "notes.txt", "not_an_image", "text/plain"),
    ],
)
def test_precheck_declared_type(content_type, filename, code, word):
    att = Att(filename, 100, "http://127.0.0.1:1/never", content_type)
    with pytest.raises(InputRejected) as info:
        precheck(att, role="content", max_bytes=10_000)
    assert info.value.code == code
    assert word in info.value.message


async def test_declared_svg_is_not_downloaded(cdn):
    server, files, hits, session = cdn
    att = _att(server, files, "x.svg", badimages.svg(), content_type="image/svg+xml")
    with pytest.raises(InputRejected):
        await fetch_image(session, att, role="style", max_bytes=10_000, max_pixels=10**7)
    assert hits == []


async def test_exotic_inputs_are_normalised_to_png(cdn):
    server, files, _, session = cdn
    for name in ("animated_gif", "cmyk_jpeg", "png16"):
        att = _att(server, files, name, badimages.CORPUS[name][0])
        img = await fetch_image(session, att, role="content", max_bytes=10**7, max_pixels=10**7)
        assert img.data.startswith(b"\x89PNG"), name


async def test_plain_png_is_stored_as_uploaded(cdn):
    server, files, _, session = cdn
    data = badimages.png(badimages.photo())
    att = _att(server, files, "plain.png", data)
    img = await fetch_image(session, att, role="content", max_bytes=10**7, max_pixels=10**7)
    assert img.data == data
    assert (img.width, img.height) == (64, 48)
