"""The gallery at /g/<guild> over aiohttp's test client: only public jobs of a server whose
gallery is on, one 404 for everything else, keyset pages, thumbnails made once and cached."""

from __future__ import annotations

import io
import re

from PIL import Image

from bot.store import ImageBlob, JobParams, Store
from bot.webui.gallery import NOT_FOUND, PAGE_SIZE
from bot.webui.images import CARD, SMALL
from tests.bot.webui.conftest import png_bytes

GUILD, OTHER = 81 << 22, 82 << 22
PAGE_LIMIT = 200_000


def blob(data: bytes) -> ImageBlob:
    with Image.open(io.BytesIO(data)) as img:
        return ImageBlob(data, "png", img.width, img.height)


async def made(
    store: Store, owner: int, guild: int | None, *, private: bool = False, colour: int = 0
) -> int:
    """A succeeded job with real (small) images, made in `guild`."""
    params = JobParams(size=64, preset="fast", private=private)
    content = blob(png_bytes((160, 120), colour))
    style = blob(png_bytes((120, 120), colour + 70))
    job = await store.submit(owner, guild, 5 if guild else None, content, [(style, 1.0)], params)
    claimed = await store.claim("w1")
    assert claimed is not None and claimed.job.id == job.id
    result = png_bytes((400, 300), colour + 30)
    assert await store.complete(job.id, "w1", result, 400, 300, 2.5)
    return job.id


def card_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<li class="card" data-job="(\d+)"', html)]


async def test_a_gallery_that_is_off_and_an_unknown_guild_get_the_same_404(make_web):
    store, new_client = await make_web()
    client = await new_client()
    public = await made(store, 1, GUILD)
    await store.set_guild_settings(GUILD, max_size=128)  # settings saved, gallery still off
    answers = []
    for path in (
        f"/g/{GUILD}",
        f"/g/{OTHER}",  # a guild the bot never saw
        f"/g/{GUILD}/{public}",
        f"/g/{GUILD}?before=abc",
        f"/g/{'9' * 20}",  # beyond 64 bits
    ):
        resp = await client.get(path)
        assert resp.status == 404, path
        html = await resp.text()
        assert NOT_FOUND in html and f"#{public}" not in html, path
        answers.append(html)
    assert len(set(answers)) == 1  # nothing tells "off" from "unknown"


async def test_the_gallery_shows_public_jobs_of_its_guild_only(make_web):
    store, new_client = await make_web(retention_days=30)
    client = await new_client()
    await store.set_gallery(GUILD, True)
    await store.set_gallery(OTHER, True)
    public = await made(store, 1, GUILD)
    private = await made(store, 1, GUILD, private=True, colour=20)
    elsewhere = await made(store, 2, OTHER, colour=40)
    in_dm = await made(store, 1, None, colour=60)

    resp = await client.get(f"/g/{GUILD}")
    html = await resp.text()
    assert resp.status == 200
    assert card_ids(html) == [public]
    assert len(html.encode()) < PAGE_LIMIT
    assert resp.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert "Set-Cookie" not in resp.headers  # a gallery visit mints no web identity
    job = await store.get_job(public)
    assert job is not None and job.result_sha
    assert f'href="/g/{GUILD}/{public}"' in html
    for side, sha in ((CARD, job.result_sha), (SMALL, job.content_sha), (SMALL, job.styles[0][0])):
        assert f"/g/{GUILD}/{public}/thumb/{side}/{sha}" in html
    assert "64 px · fast" in html
    for hidden in (private, elsewhere, in_dm):
        assert (await client.get(f"/g/{GUILD}/{hidden}")).status == 404
    page = await client.get(f"/g/{GUILD}/{public}")
    assert page.status == 200 and f"Pastiche #{public}" in await page.text()
    other = await client.get(f"/g/{OTHER}")
    assert card_ids(await other.text()) == [elsewhere]

    # /forget and the switch act at once.
    await store.forget_user(1)
    assert card_ids(await (await client.get(f"/g/{GUILD}")).text()) == []
    await store.set_gallery(OTHER, False)
    assert (await client.get(f"/g/{OTHER}")).status == 404


async def test_gallery_pages_link_to_older_jobs(make_web):
    store, new_client = await make_web()
    client = await new_client()
    await store.set_gallery(GUILD, True)
    ids = [await made(store, 100 + i, GUILD, colour=i) for i in range(PAGE_SIZE + 2)]
    first = await (await client.get(f"/g/{GUILD}")).text()
    assert card_ids(first) == sorted(ids, reverse=True)[:PAGE_SIZE]
    older = re.search(r'href="(/g/\d+\?before=\d+)" id="older"', first)
    assert older, "no link to the older page"
    second = await (await client.get(older.group(1))).text()
    assert card_ids(second) == sorted(ids, reverse=True)[PAGE_SIZE:]
    assert 'id="older"' not in second and 'id="newest"' in second


async def test_thumbnails_are_made_once_kept_and_cached_by_the_browser(make_web):
    store, new_client = await make_web()
    client = await new_client()
    await store.set_gallery(GUILD, True)
    public = await made(store, 1, GUILD)
    private = await made(store, 1, GUILD, private=True, colour=20)
    job = await store.get_job(public)
    assert job is not None and job.result_sha
    url = f"/g/{GUILD}/{public}/thumb/{CARD}/{job.result_sha}"
    assert await store.get_thumbnail(job.result_sha, CARD) is None

    resp = await client.get(url)
    body = await resp.read()
    assert resp.status == 200 and resp.content_type == "image/jpeg"
    # Immutable by sha; private: no shared cache keeps serving it after a /forget.
    assert resp.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    etag = resp.headers["ETag"]
    assert etag == f'"{job.result_sha}-{CARD}"'
    with Image.open(io.BytesIO(body)) as img:
        assert max(img.size) == CARD and img.size == (CARD, 240)  # 400×300 scaled, no crop
    kept = await store.get_thumbnail(job.result_sha, CARD)
    assert kept is not None and kept.data == body  # made once, then read from the store
    again = await client.get(url)
    assert await again.read() == body

    unchanged = await client.get(url, headers={"If-None-Match": f'W/"x", {etag}'})
    assert unchanged.status == 304 and unchanged.headers["ETag"] == etag
    assert await unchanged.read() == b""
    full = await client.get(f"/g/{GUILD}/{public}/image/{job.result_sha}")
    assert full.status == 200 and full.headers["ETag"] == f'"{job.result_sha}"'
    assert (await full.read()).startswith(b"\x89PNG")

    # Only sizes the pages use, only images of that job, only gallery jobs.
    hidden = await store.get_job(private)
    assert hidden is not None and hidden.result_sha
    for path in (
        f"/g/{GUILD}/{public}/thumb/50/{job.result_sha}",
        f"/g/{GUILD}/{public}/thumb/{CARD}/{hidden.result_sha}",
        f"/g/{GUILD}/{private}/thumb/{CARD}/{hidden.result_sha}",
        f"/g/{GUILD}/{private}/image/{hidden.result_sha}",
        f"/g/{OTHER}/{public}/image/{job.result_sha}",
    ):
        assert (await client.get(path)).status == 404, path
    assert await store.get_thumbnail(hidden.result_sha, CARD) is None
