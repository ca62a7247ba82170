"""Attachment intake against a real local HTTP server serving the bad-input corpus: declared
metadata, allowed hosts and redirects, and which bytes are stored."""

from __future__ import annotations

import io
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image

from bot.discord_bot.errors import InputRejected
from bot.discord_bot.validation import (
    STORE_MAX_SIDE,
    download_origins,
    fetch_image,
    fetch_images,
    precheck,
)
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


def ok(server: TestServer) -> dict[str, frozenset]:
    """`allowed_hosts` for a test CDN server: as if it were the configured API base's host."""
    return {"allowed_hosts": download_origins(str(server.make_url("/api/v10")))}


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
            session, att, role="content", max_bytes=10_000_000, max_pixels=40_000_000, **ok(server)
        )
        assert img.width >= 16 and img.height >= 16
        assert img.data
    else:
        with pytest.raises(InputRejected) as info:
            await fetch_image(
                session,
                att,
                role="content",
                max_bytes=10_000_000,
                max_pixels=40_000_000,
                **ok(server),
            )
        assert info.value.code == code
        assert "content" in info.value.message


async def test_declared_size_over_limit_is_refused_before_download(cdn):
    server, files, hits, session = cdn
    att = _att(server, files, "big.png", badimages.png(badimages.photo()), size=50_000_000)
    with pytest.raises(InputRejected) as info:
        await fetch_image(
            session, att, role="style", max_bytes=10_000_000, max_pixels=10**7, **ok(server)
        )
    assert info.value.code == "too_large_bytes"
    assert "50.0 MB" in info.value.message
    assert hits == []


async def test_lying_declared_size_stops_at_the_cap(cdn):
    server, files, hits, session = cdn
    att = _att(server, files, "liar.png", b"\x89PNG" + b"\0" * 200_000, size=1000)
    with pytest.raises(InputRejected) as info:
        await fetch_image(
            session, att, role="style", max_bytes=100_000, max_pixels=10**7, **ok(server)
        )
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
        await fetch_image(
            session, att, role="style", max_bytes=10_000, max_pixels=10**7, **ok(server)
        )
    assert hits == []


@pytest.mark.parametrize(
    ("name", "stored_as"), [("animated_gif", "PNG"), ("cmyk_jpeg", "JPEG"), ("png16", "PNG")]
)
async def test_exotic_inputs_are_normalised(cdn, name, stored_as):
    # Lossless sources stay lossless; a lossy one is not inflated into a PNG.
    server, files, _, session = cdn
    att = _att(server, files, name, badimages.CORPUS[name][0])
    img = await fetch_image(
        session, att, role="content", max_bytes=10**7, max_pixels=10**7, **ok(server)
    )
    stored = Image.open(io.BytesIO(img.data))
    assert (stored.format, stored.mode, img.fmt) == (stored_as, "RGB", stored_as.lower())
    assert not getattr(stored, "is_animated", False)


async def test_plain_png_is_stored_as_uploaded(cdn):
    server, files, _, session = cdn
    data = badimages.png(badimages.photo())
    att = _att(server, files, "plain.png", data)
    img = await fetch_image(
        session, att, role="content", max_bytes=10**7, max_pixels=10**7, **ok(server)
    )
    assert img.data == data
    assert (img.width, img.height) == (64, 48)


def oriented_jpeg(size: tuple[int, int] = (96, 64), orientation: int = 6) -> bytes:
    """A phone-style JPEG: pixels stored landscape, EXIF says "rotate 90° to show it"."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    badimages.photo(size).save(buf, format="JPEG", quality=90, exif=exif.tobytes())
    return buf.getvalue()


def big_photo_jpeg(size: tuple[int, int] = (3000, 2250)) -> bytes:
    """A photo-like JPEG over STORE_MAX_SIDE (smooth picture plus sensor noise)."""
    base = badimages.photo((64, 48)).resize(size, Image.Resampling.BICUBIC)
    noisy = Image.blend(base, Image.effect_noise(size, 24).convert("RGB"), 0.15)
    buf = io.BytesIO()
    noisy.save(buf, format="JPEG", quality=95)
    return buf.getvalue()


async def test_oriented_jpeg_is_stored_byte_for_byte_with_its_upright_size(cdn):
    server, files, _, session = cdn
    data = oriented_jpeg()
    att = _att(server, files, "IMG_0042.jpg", data, content_type="image/jpeg")
    img = await fetch_image(
        session, att, role="content", max_bytes=10**7, max_pixels=10**7, **ok(server)
    )
    assert img.data == data and img.fmt == "jpeg"
    assert (img.width, img.height) == (64, 96)  # what the engine will see, upright


async def test_big_photo_is_downscaled_into_fewer_bytes_than_were_sent(cdn):
    server, files, _, session = cdn
    data = big_photo_jpeg()
    att = _att(server, files, "big.jpg", data, content_type="image/jpeg")
    img = await fetch_image(
        session, att, role="content", max_bytes=10**8, max_pixels=10**8, **ok(server)
    )
    assert max(img.width, img.height) == STORE_MAX_SIDE
    assert img.fmt == "jpeg" and Image.open(io.BytesIO(img.data)).format == "JPEG"
    assert len(img.data) < len(data)


async def test_uncompressed_bmp_is_stored_smaller(cdn):
    server, files, _, session = cdn
    buf = io.BytesIO()
    badimages.photo((200, 150)).save(buf, format="BMP")
    att = _att(server, files, "scan.bmp", buf.getvalue(), content_type="image/bmp")
    img = await fetch_image(
        session, att, role="content", max_bytes=10**7, max_pixels=10**7, **ok(server)
    )
    assert img.fmt in ("png", "jpeg") and len(img.data) < len(buf.getvalue())


# ------------------------------------------------------------------ hosts and redirects
@pytest.fixture
async def elsewhere():
    """Another loopback HTTP server (another port: another origin) that counts requests."""
    hits: list[str] = []

    async def serve(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        return web.Response(body=badimages.png(badimages.photo()), content_type="image/png")

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    yield server, hits
    await server.close()


def test_download_origins_are_discords_cdn_and_the_api_base_host():
    origins = download_origins("http://127.0.0.1:5005/api/v10")
    assert origins == {
        ("https", "cdn.discordapp.com", 443),
        ("https", "media.discordapp.net", 443),
        ("http", "127.0.0.1", 5005),
    }


@pytest.mark.parametrize(
    "url",
    [
        "http://cdn.discordapp.com/attachments/1/2/a.png",  # not HTTPS
        "https://cdn.discordapp.com:8443/attachments/1/2/a.png",  # another port
        "https://cdn.discordapp.com.evil.example/attachments/1/2/a.png",
        "https://cdn.discordapp.com@127.0.0.1:8080/a.png",  # userinfo trick
        "https://evil.example/?next=https://cdn.discordapp.com/a.png",
        "http://127.0.0.1:5006/cdn/attachments/1/a.png",  # the API host, another port
        "http://localhost:5005/cdn/attachments/1/a.png",
        "file:///etc/passwd",
        "not a url",
        "",
    ],
)
async def test_urls_off_discords_cdn_are_refused_before_any_request(url):
    att = Att("a.png", 100, url)
    allowed = download_origins("http://127.0.0.1:5005/api/v10")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(InputRejected) as info:
            await fetch_image(
                session, att, role="style", max_bytes=10**6, max_pixels=10**7, allowed_hosts=allowed
            )
    assert info.value.code == "untrusted_url"
    assert "style" in info.value.message and "Discord" in info.value.message


async def test_discord_cdn_url_is_accepted_by_the_check():
    from bot.discord_bot.validation import checked_url

    url = "https://cdn.discordapp.com/attachments/1/2/a.png?ex=1&is=2&hm=3"
    allowed = download_origins("https://discord.com/api/v10")
    assert str(checked_url(url, role="content", allowed=allowed)) == url
    media = "https://MEDIA.discordapp.net/attachments/1/2/a.png"
    assert checked_url(media, role="content", allowed=allowed).host == "media.discordapp.net"


async def test_other_port_on_loopback_gets_no_request(cdn, elsewhere):
    server, files, hits, session = cdn
    other, other_hits = elsewhere
    good = _att(server, files, "good.png", badimages.png(badimages.photo()))
    bad = Att("cat.png", 1000, str(other.make_url("/cdn/attachments/1/cat.png")))
    with pytest.raises(InputRejected) as info:
        await fetch_images(
            session,
            [("content", good), ("style", bad)],
            max_bytes=10**6,
            max_pixels=10**7,
            **ok(server),
        )
    assert info.value.code == "untrusted_url" and "127.0.0.1" in info.value.message
    assert other_hits == [] and hits == []  # refused before downloading either


async def test_redirect_is_refused_not_followed(elsewhere):
    other, other_hits = elsewhere

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(str(other.make_url("/internal/secret.png")))

    app = web.Application()
    app.router.add_get("/cdn/{name}", redirect)
    cdn = TestServer(app, host="127.0.0.1", port=0)
    await cdn.start_server()
    att = Att("moved.png", 1000, str(cdn.make_url("/cdn/moved.png")))
    try:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(InputRejected) as info:
                await fetch_image(
                    session, att, role="content", max_bytes=10**6, max_pixels=10**7, **ok(cdn)
                )
    finally:
        await cdn.close()
    assert info.value.code == "download_redirect" and "redirects" in info.value.message
    assert other_hits == []


# ------------------------------------------------------------------ through the fake Discord
async def test_payload_url_to_another_host_is_refused_through_discord(env, elsewhere):
    fake = env.fake
    other, other_hits = elsewhere
    planted = fake.add_attachment(
        badimages.png(badimages.photo()),
        "cat.png",
        "image/png",
        url=str(other.make_url("/cdn/attachments/1/cat.png")),
    )
    style = fake.add_attachment(badimages.png(badimages.photo()), "style.png", "image/png")
    iid = await fake.slash("stylize", {"content": planted, "style": style})
    msgs = await fake.wait_until(lambda: fake.followups(iid))
    text = msgs[-1].content
    assert msgs[-1].ephemeral
    assert "not a Discord attachment link" in text and "content" in text
    assert env.error_codes() == ["untrusted_url"]
    assert other_hits == []
    assert not [c for c in fake.calls if c.is_cdn]  # nor was the genuine style downloaded
    assert await env.store.active_jobs() == []


async def test_oriented_phone_jpeg_is_stored_as_sent_through_discord(env):
    fake = env.fake
    data = oriented_jpeg()
    content = fake.add_attachment(data, "IMG_0042.jpg", "image/jpeg")
    style = fake.add_attachment(badimages.png(badimages.photo()), "style.png", "image/png")
    iid = await fake.slash("stylize", {"content": content, "style": style})
    await fake.wait_until(lambda: (m := fake.original(iid)) is not None and "queued" in m.content)
    [job] = await env.store.active_jobs()
    stored = await env.store.get_image(job.content_sha)
    assert stored is not None and stored.data == data
    assert (stored.fmt, stored.width, stored.height) == ("jpeg", 64, 96)
