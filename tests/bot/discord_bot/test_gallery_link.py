"""The line that links a Discord result to its page in the server's web gallery
(`render.gallery_link`): only public succeeded guild jobs, with WEB_PUBLIC_URL and the gallery
on."""

from __future__ import annotations

from bot.discord_bot.render import gallery_link
from bot.store import JobParams, JobStatus, Store
from tests.bot.store.conftest import db_url, store  # noqa: F401  (SQLite and PostgreSQL)
from tests.bot.store.helpers import submit

URL = "https://nst.example/"


async def test_only_a_public_guild_result_with_the_gallery_on_links_there(
    store: Store,  # noqa: F811
):
    public = await submit(store, 1, "public", guild=5 << 22, channel=6)
    private = await submit(
        store, 1, "private", guild=5 << 22, channel=6, params=JobParams(private=True)
    )
    dm = await submit(store, 2, "dm")
    for _ in range(3):
        claimed = await store.claim("w1")
        assert claimed is not None
        assert await store.complete(claimed.job.id, "w1", b"r" + bytes([claimed.job.id]), 8, 8, 1)
    queued = await submit(store, 3, "queued", guild=5 << 22, channel=6)
    ids = {"public": public, "private": private, "dm": dm, "queued": queued}
    jobs = {name: await store.get_job(job_id) for name, job_id in ids.items()}
    job = jobs["public"]
    assert job is not None and job.status == JobStatus.SUCCEEDED
    line = gallery_link(job, URL, gallery_on=True)
    assert line is not None and f"(https://nst.example/g/{5 << 22}/{job.id})" in line
    assert gallery_link(job, None, gallery_on=True) is None  # no public address
    assert gallery_link(job, URL, gallery_on=False) is None
    for other in ("private", "dm", "queued"):
        assert gallery_link(jobs[other], URL, gallery_on=True) is None, other
