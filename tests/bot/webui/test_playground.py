"""The playground over aiohttp's test client: cookies and CSRF, the same upload checks and
texts as /stylize, per-client limits, who sees a job, caching headers, page sizes."""

from __future__ import annotations

import asyncio
import io
import os
import re

from PIL import Image

from bot import styles
from bot.discord_bot.errors import InputRejected
from bot.discord_bot.validation import decode_all, precheck
from bot.store import JobStatus, Viewer, unseen_message
from bot.webui.identity import COOKIE
from bot.webui.intake import Upload
from bot.webui.pages import discord_md
from tests import badimages
from tests.bot.webui.conftest import csrf_of, form, png_bytes

PAGE_LIMIT = 200_000


def noise_png(side: int) -> bytes:
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, format="PNG")
    return buf.getvalue()


async def open_playground(client) -> str:
    resp = await client.get("/")
    assert resp.status == 200
    return csrf_of(await resp.text())


async def submit(client, csrf, **kwargs):
    return await client.post("/jobs", data=form(csrf, **kwargs), allow_redirects=False)


def shown_error(html: str) -> str:
    match = re.search(r'<p class="error" id="error"[^>]*>(.*?)</p>', html, re.S)
    assert match, "no error shown on the page"
    return match.group(1)


async def test_playground_page_sets_a_client_cookie_and_is_small(make_web):
    _, new_client = await make_web()
    client = await new_client()
    resp = await client.get("/")
    html = await resp.text()
    assert resp.status == 200
    assert COOKIE in resp.cookies and resp.cookies[COOKIE]["httponly"]
    assert resp.cookies[COOKIE]["samesite"] == "Lax"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert len(html.encode()) < PAGE_LIMIT
    assert 'max="256"' in html and 'name="content"' in html and 'name="style"' in html
    # The same browser keeps its identity (and token); the operations endpoints stay.
    again = await client.get("/")
    assert COOKIE not in again.cookies
    assert csrf_of(await again.text()) == csrf_of(html)
    assert (await client.get("/metrics")).status == 200
    assert (await client.get("/healthz")).status in (200, 503)


async def test_a_submitted_job_belongs_to_the_browser_and_shows_its_progress(make_web):
    store, new_client = await make_web()
    client = await new_client()
    csrf = await open_playground(client)
    resp = await submit(client, csrf, size="96", strength="1.5", preserve_colors="on")
    assert resp.status == 303, await resp.text()
    job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    job = await store.get_job(job_id)
    assert job.owner_id < 0 and job.guild_id is None and job.channel_id is None
    assert job.params.size == 96 and job.params.preset == "fast"
    assert job.params.style_strength == 1.5 and job.params.preserve_colors and job.params.private
    page = await client.get(f"/jobs/{job_id}")
    html = await page.text()
    assert page.status == 200 and "Queued: position 1 of 1" in html
    assert len(html.encode()) < PAGE_LIMIT
    state = await (await client.get(f"/jobs/{job_id}.json")).json()
    assert state["status"] == "queued" and state["position"] == 1 and not state["finished"]
    # Another job of the same browser counts against the same per-user limit and cooldown.
    assert (await store.history(job.owner_id, Viewer(job.owner_id, None)))[0].id == job_id


async def test_the_form_needs_this_browsers_csrf_token_and_origin(make_web):
    store, new_client = await make_web()
    client = await new_client()
    csrf = await open_playground(client)
    for bad in (None, "0" * 32, csrf[:-1] + ("0" if csrf[-1] != "0" else "1")):
        resp = await submit(client, bad)
        assert resp.status == 403 and resp.headers["X-NST-Error"] == "csrf"
        assert "expired or was sent from another site" in await resp.text()
    resp = await client.post(
        "/jobs", data=form(csrf), headers={"Origin": "https://evil.example"}, allow_redirects=False
    )
    assert resp.status == 403
    # Another browser's token is no good here either, nor is a request without the cookie.
    other = await new_client()
    resp = await submit(other, csrf)
    assert resp.status == 403
    client.session.cookie_jar.clear()
    assert (await submit(client, csrf)).status == 403
    assert (await store.stats()).queued == 0
    # The right token from the right origin works.
    same_origin = {"Origin": str(other.make_url("/")).rstrip("/")}
    csrf = await open_playground(other)
    resp = await other.post("/jobs", data=form(csrf), headers=same_origin, allow_redirects=False)
    assert resp.status == 303


async def test_another_browser_cannot_see_a_job(make_web):
    store, new_client = await make_web()
    owner = await new_client()
    resp = await submit(owner, await open_playground(owner))
    job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    job = await store.get_job(job_id)
    stranger = await new_client()
    await open_playground(stranger)
    for client in (stranger, await new_client()):  # with and without a cookie
        for path in (
            f"/jobs/{job_id}",
            f"/jobs/{job_id}.json",
            f"/jobs/{job_id}/image/{job.content_sha}",
            f"/jobs/{job_id}/preview.jpg",
        ):
            resp = await client.get(path)
            assert resp.status == 404, path
            assert unseen_message(job_id) in await resp.text(), path
    # The same answer as for a job that does not exist.
    missing = await stranger.get("/jobs/999999")
    assert missing.status == 404 and unseen_message(999999) in await missing.text()
    resp = await stranger.post(
        f"/jobs/{job_id}/cancel",
        data={"csrf": await open_playground(stranger)},
        allow_redirects=False,
    )
    assert resp.status == 404
    assert (await store.get_job(job_id)).status == JobStatus.QUEUED
    # The owner can cancel it.
    csrf = await open_playground(owner)
    resp = await owner.post(f"/jobs/{job_id}/cancel", data={"csrf": csrf}, allow_redirects=False)
    assert resp.status == 303
    assert (await store.get_job(job_id)).status == JobStatus.CANCELLED


def expected_precheck(role, upload, max_bytes):
    try:
        precheck(upload, role=role, max_bytes=max_bytes)
    except InputRejected as exc:
        return exc.message
    raise AssertionError("precheck accepted it")


def expected_decode(role, filename, data):
    try:
        decode_all([(role, filename, data)], max_pixels=40_000_000)
    except InputRejected as exc:
        return exc.message
    raise AssertionError("decode accepted it")


async def test_invalid_uploads_get_the_texts_stylize_gives(make_web):
    store, new_client = await make_web(max_upload_bytes=200_000)
    client = await new_client()
    csrf = await open_playground(client)
    text = b"not a picture\n" * 10
    big = noise_png(300)
    assert len(big) > 200_000
    cases = [
        (
            {"content": (text, "notes.txt", "text/plain")},
            expected_precheck(
                "content", Upload("notes.txt", len(text), "text/plain", text), 200_000
            ),
            "not_an_image",
        ),
        (
            {"style": (b"<svg/>", "art.svg", "image/svg+xml")},
            expected_precheck("style", Upload("art.svg", 6, "image/svg+xml", b""), 200_000),
            "unsupported_format",
        ),
        (
            {"content": (big, "big.png", "image/png")},
            expected_precheck("content", Upload("big.png", len(big), "image/png", b""), 200_000),
            "too_large_bytes",
        ),
        (
            {"content": (badimages.text_as_png(), "fake.png", "image/png")},
            expected_decode("content", "fake.png", badimages.text_as_png()),
            None,
        ),
        (
            {"style": (badimages.truncated_png(), "cut.png", "image/png")},
            expected_decode("style", "cut.png", badimages.truncated_png()),
            None,
        ),
    ]
    for files, message, code in cases:
        resp = await submit(client, csrf, **files)
        html = await resp.text()
        assert resp.status == 200 and resp.headers["X-NST-Status"] in ("400", "413"), message
        if code:
            assert resp.headers["X-NST-Error"] == code
        assert shown_error(html) == str(discord_md(message)), html
        assert (
            "is not an image" in message
            or "isn't supported" in message
            or "limit" in message
            or "can't be used" in message
        )
        # The form comes back filled in as sent.
        assert 'value="64"' in html
    # A body beyond two capped images is refused from its Content-Length, unread.
    huge = b"\0" * 1_500_000
    resp = await submit(client, csrf, content=(huge, "huge.png", "image/png"))
    assert resp.headers["X-NST-Error"] == "too_large_bytes"
    assert "The upload is 1.5 MB; each image may be at most 0.2 MB." in shown_error(
        await resp.text()
    )
    assert (await store.stats()).queued == 0
    # Options out of range: the size ceiling gives admission's own text.
    resp = await submit(client, csrf, size="4096")
    assert "The largest output allowed here is 256 px (you asked for 4096 px)." in shown_error(
        await resp.text()
    )
    for fields in ({"size": "abc"}, {"size": "8"}, {"strength": "nan"}, {"preset": "ultra"}):
        resp = await submit(client, csrf, **fields)
        assert resp.headers["X-NST-Error"] == "bad_params", fields


async def test_limits_apply_per_browser(make_web):
    store, new_client = await make_web(per_user_queue_limit=1)
    first = await new_client()
    csrf = await open_playground(first)
    assert (await submit(first, csrf)).status == 303
    resp = await submit(first, csrf)
    assert resp.headers["X-NST-Error"] == "user_limit"
    assert "You already have 1 job(s) waiting or running (the limit is 1)" in shown_error(
        await resp.text()
    )
    second = await new_client()
    assert (await submit(second, await open_playground(second))).status == 303
    assert (await store.stats()).queued == 2


async def test_cooldown_applies_per_browser(make_web):
    _, new_client = await make_web(cooldown_s=60)
    client = await new_client()
    csrf = await open_playground(client)
    assert (await submit(client, csrf)).status == 303
    resp = await submit(client, csrf)
    assert resp.headers["X-NST-Error"] == "cooldown"
    assert "before starting another job" in shown_error(await resp.text())


async def test_images_are_cached_by_sha_and_previews_are_not(make_web):
    store, new_client = await make_web()
    client = await new_client()
    resp = await submit(client, await open_playground(client))
    job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    claimed = await store.claim("w1")
    assert claimed.job.id == job_id
    preview = b"\xff\xd8" + b"preview" * 10 + b"\xff\xd9"
    await store.report_progress(
        job_id,
        "w1",
        scale=1,
        scales=2,
        step=5,
        total=20,
        eta_s=4.0,
        preview_jpeg=preview,
        preview_size=(8, 8),
        token=claimed.token,
    )
    state = await (await client.get(f"/jobs/{job_id}.json")).json()
    assert state["status"] == "running" and state["step"] == 5 and state["total"] == 20
    assert "step 5 of 20 (scale 1 of 2), about 4 s left" in state["headline"]
    resp = await client.get(state["preview"])
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    assert await resp.read() == preview
    result = png_bytes((64, 48), 40)
    await store.complete(job_id, "w1", result, 64, 48, 2.0, token=claimed.token)
    resp = await client.get(f"/jobs/{job_id}.json")
    assert resp.headers["Cache-Control"] == "no-store"
    state = await resp.json()
    assert state["finished"] and state["result"] and state["preview"] is None
    resp = await client.get(state["result"])
    assert resp.status == 200 and await resp.read() == result
    assert resp.headers["Content-Type"] == "image/png"
    assert "max-age=31536000" in resp.headers["Cache-Control"]
    assert "immutable" in resp.headers["Cache-Control"]
    assert "private" in resp.headers["Cache-Control"]  # owner-only: no shared caches
    etag = resp.headers["ETag"]
    again = await client.get(state["result"], headers={"If-None-Match": etag})
    assert again.status == 304
    download = await client.get(state["download"])
    assert (
        download.headers["Content-Disposition"] == f'attachment; filename="pastiche-{job_id}.png"'
    )
    page = await client.get(f"/jobs/{job_id}")
    html = await page.text()
    assert "Done in 2 s." in html and state["result"] in html
    assert len(html.encode()) < PAGE_LIMIT
    # A sha that is not this job's is not served through it.
    other = "0" * 64
    assert (await client.get(f"/jobs/{job_id}/image/{other}")).status == 404
    # Static files are versioned and cacheable.
    css = re.search(r'href="(/static/app\.css\?v=[0-9a-f]+)"', html).group(1)
    resp = await client.get(css)
    assert resp.status == 200 and "max-age" in resp.headers["Cache-Control"]
    # The web job was settled: no Discord delivery will pick it up.
    for _ in range(30):
        job = await store.get_job(job_id)
        if job.delivery.state is not None and job.delivery.state.value == "delivered":
            break
        await asyncio.sleep(0.1)
    assert job.delivery.state.value == "delivered" and job.delivered_via == "none"


async def test_forget_deletes_this_browsers_jobs_and_images_only(make_web):
    store, new_client = await make_web()
    client, other = await new_client(), await new_client()
    csrf = await open_playground(client)
    resp = await submit(client, csrf)
    job = await store.get_job(int(resp.headers["Location"].rsplit("/", 1)[1]))
    theirs = (png_bytes((64, 48), 77), "theirs.png", "image/png")  # not the same image
    kept = await submit(other, await open_playground(other), content=theirs)
    kept_id = int(kept.headers["Location"].rsplit("/", 1)[1])
    # Without this browser's token (or from another site) nothing is deleted.
    assert (await client.post("/forget", data={}, allow_redirects=False)).status == 403
    assert (
        await client.post(
            "/forget", data={"csrf": csrf}, headers={"Origin": "https://evil.example"}
        )
    ).status == 403
    assert (await other.post("/forget", data={"csrf": csrf})).status == 403
    assert await store.get_job(job.id) is not None

    resp = await client.post("/forget", data={"csrf": csrf})
    html = await resp.text()
    assert resp.status == 200 and "Deleted 1 job of this browser" in html
    assert resp.cookies[COOKIE].value == ""  # the identity is dropped too
    assert await store.get_job(job.id) is None
    assert await store.get_image(job.content_sha) is None
    assert await store.get_job(kept_id) is not None
    # The next visit is a new web user with its own token.
    assert await open_playground(client) != csrf


NO_FILE = (b"", "", "application/octet-stream")  # what a browser sends for an empty file input


async def test_a_painting_of_the_style_library_replaces_the_style_upload(make_web):
    store, new_client = await make_web()
    client = await new_client()
    csrf = await open_playground(client)
    painting = styles.library()[0]
    assert f'<option value="{painting.name}">' in (await (await client.get("/")).text())
    resp = await submit(client, csrf, style=NO_FILE, style_name=painting.name)
    assert resp.status == 303, shown_error(await resp.text())
    job = await store.get_job(int(resp.headers["Location"].rsplit("/", 1)[1]))
    ((style, _weight),) = job.styles
    assert (await store.get_image(style)).data == painting.image_bytes()
    # Both at once, an unknown painting, and neither: refused with a reason, nothing queued.
    for kwargs, needle in (
        ({"style_name": painting.name}, "not both"),
        ({"style": NO_FILE, "style_name": "mona-lisa"}, "no painting called"),
        ({"style": NO_FILE}, "or a painting of the library"),
    ):
        resp = await submit(client, csrf, **kwargs)
        assert resp.headers["X-NST-Status"] == "400", kwargs
        assert needle in shown_error(await resp.text()), kwargs
    assert len(await store.history(job.owner_id, Viewer(job.owner_id, None))) == 1
