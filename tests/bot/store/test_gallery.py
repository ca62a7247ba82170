"""A server's gallery (`bot.store.gallery`): the switch, what it shows, keyset pages."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bot.store import JobParams, Store
from bot.store.models import JobRow
from tests.bot.store.helpers import TINY, blob, submit

GUILD, OTHER = 1 << 40, 2 << 40
PRIVATE = JobParams(size=64, preset="fast", private=True)


async def finished(store: Store, owner: int, tag: str, *, outcome: str = "ok", **kw) -> int:
    """Submit a job and run it to `outcome` (ok, failed, cancelled) at once."""
    job_id = await submit(store, owner, tag, **kw)
    claimed = await store.claim("w1")
    assert claimed is not None and claimed.job.id == job_id
    if outcome == "ok":
        assert await store.complete(job_id, "w1", f"result-{tag}".encode(), 8, 8, 1.0)
    elif outcome == "failed":
        assert await store.fail(job_id, "w1", "engine_error", "it broke")
    else:
        assert await store.mark_cancelled(job_id, "w1")
    return job_id


async def test_the_gallery_is_off_until_turned_on_and_unknown_guilds_read_as_off(store: Store):
    await finished(store, 1, "a", guild=GUILD, channel=5)
    assert not await store.gallery_enabled(GUILD)
    assert await store.gallery(GUILD) is None  # saved settings or not: the same answer
    await store.set_guild_settings(GUILD, allowed_channel_ids=[5], max_size=128)
    assert await store.gallery(GUILD) is None
    assert await store.set_gallery(GUILD, True) is True
    page = await store.gallery(GUILD)
    assert page is not None and len(page.jobs) == 1
    rules = await store.get_guild_settings(GUILD)
    assert (rules.allowed_channel_ids, rules.max_size) == ((5,), 128)  # the rest kept
    # A guild with no settings row at all gets one; later rule changes keep the switch.
    assert await store.set_gallery(OTHER, True) is True
    await store.set_guild_settings(OTHER, per_user_queue_limit=2)
    assert await store.gallery_enabled(OTHER)
    assert await store.set_gallery(GUILD, False) is False
    assert await store.gallery(GUILD) is None
    assert await store.gallery_job(GUILD, page.jobs[0].id) is None


async def test_the_gallery_shows_only_public_succeeded_jobs_made_in_that_guild(store: Store):
    await store.set_gallery(GUILD, True)
    await store.set_gallery(OTHER, True)
    shown = await finished(store, 1, "public", guild=GUILD, channel=5)
    private = await finished(store, 1, "private", guild=GUILD, channel=5, params=PRIVATE)
    elsewhere = await finished(store, 2, "other", guild=OTHER, channel=6)
    dm = await finished(store, 1, "dm")
    web = await finished(store, -7, "web")
    failed = await finished(store, 2, "failed", guild=GUILD, channel=5, outcome="failed")
    cancelled = await finished(store, 2, "cancel", guild=GUILD, channel=5, outcome="cancelled")
    queued = await submit(store, 3, "queued", guild=GUILD, channel=5)

    page = await store.gallery(GUILD)
    assert page is not None
    assert [j.id for j in page.jobs] == [shown]
    assert page.jobs[0].styles  # whole jobs, with their styles (the cards show them)
    for hidden in (private, elsewhere, dm, web, failed, cancelled, queued):
        assert await store.gallery_job(GUILD, hidden) is None
    job = await store.gallery_job(GUILD, shown)
    assert job is not None and job.id == shown and job.result_sha
    for sha in (job.result_sha, job.content_sha, job.styles[0][0]):
        assert await store.gallery_has_image(GUILD, shown, sha)
        assert not await store.gallery_has_image(OTHER, shown, sha)  # the URL's guild counts
    hidden = await store.get_job(private)
    assert hidden is not None and hidden.result_sha
    assert not await store.gallery_has_image(GUILD, private, hidden.result_sha)
    assert not await store.gallery_has_image(GUILD, shown, hidden.result_sha)  # not its image
    other = await store.gallery(OTHER)
    assert other is not None and [j.id for j in other.jobs] == [elsewhere]


async def test_gallery_pages_go_newest_first_by_job_id(store: Store):
    await store.set_gallery(GUILD, True)
    ids = [await finished(store, 10 + i, f"job{i}", guild=GUILD, channel=5) for i in range(5)]
    seen: list[int] = []
    before = None
    pages = 0
    while True:
        page = await store.gallery(GUILD, before=before, limit=2)
        assert page is not None
        pages += 1
        seen += [j.id for j in page.jobs]
        if page.older is None:
            break
        assert page.older == page.jobs[-1].id
        before = page.older
    assert seen == sorted(ids, reverse=True)
    assert pages == 3
    # A job made while someone pages does not shift the older pages (keyset, not offset).
    newer = await finished(store, 20, "newer", guild=GUILD, channel=5)
    second = await store.gallery(GUILD, before=seen[1], limit=2)
    assert second is not None and [j.id for j in second.jobs] == seen[2:4]
    first = await store.gallery(GUILD, limit=2)
    assert first is not None and first.jobs[0].id == newer


async def test_forgotten_users_and_jobs_past_retention_leave_the_gallery(store: Store):
    await store.set_gallery(GUILD, True)
    kept = await finished(store, 1, "kept", guild=GUILD, channel=5)
    forgotten = await finished(store, 2, "forgotten", guild=GUILD, channel=5)
    # Someone else's job made from the forgotten user's photo (a re-run, the Stylize menu on
    # their message) goes with it.
    theirs = replace(blob("forgotten"), source_user_id=2)
    made = await store.submit(3, GUILD, 5, theirs, [(blob("style"), 1.0)], TINY)
    claimed = await store.claim("w1")
    assert claimed is not None and claimed.job.id == made.id
    assert await store.complete(made.id, "w1", b"result-made", 8, 8, 1.0)
    old = await finished(store, 4, "old", guild=GUILD, channel=5)
    long_ago = datetime.now(UTC) - timedelta(days=31)
    async with store.write() as conn:
        await conn.execute(update(JobRow).where(JobRow.id == old).values(finished_at=long_ago))

    page = await store.gallery(GUILD, retention_days=30)
    assert page is not None and old not in [j.id for j in page.jobs]  # before any purge
    assert await store.gallery_job(GUILD, old, retention_days=30) is None
    assert await store.gallery_job(GUILD, old) is not None  # no retention given: still there

    await store.forget_user(2)
    page = await store.gallery(GUILD, retention_days=30)
    assert page is not None
    assert [j.id for j in page.jobs] == [kept]
    assert await store.gallery_job(GUILD, made.id) is None
    assert await store.gallery_job(GUILD, forgotten) is None
    await store.purge(30)
    assert await store.get_job(old) is None  # and the purge removes it for good


async def test_gallery_thumbnail_checks_the_image_and_reads_the_thumbnail_at_once(store: Store):
    await store.set_gallery(GUILD, True)
    shown = await finished(store, 1, "public", guild=GUILD, channel=5)
    private = await finished(store, 1, "private", guild=GUILD, channel=5, params=PRIVATE)
    job, hidden = await store.get_job(shown), await store.get_job(private)
    assert job is not None and job.result_sha and hidden is not None and hidden.result_sha
    assert await store.gallery_thumbnail(GUILD, shown, job.result_sha, 96) == (True, None)
    await store.put_thumbnail(job.result_sha, 96, b"thumb", "jpeg", 8, 6)
    await store.put_thumbnail(hidden.result_sha, 96, b"hidden", "jpeg", 8, 6)
    ok, thumb = await store.gallery_thumbnail(GUILD, shown, job.result_sha, 96)
    assert ok and thumb is not None and (thumb.sha, thumb.data) == (job.result_sha, b"thumb")
    assert await store.gallery_thumbnail(GUILD, shown, job.result_sha, 320) == (True, None)
    assert await store.gallery_thumbnail(GUILD, private, hidden.result_sha, 96) == (False, None)
    assert await store.gallery_thumbnail(GUILD, shown, hidden.result_sha, 96) == (False, None)
    await store.set_gallery(GUILD, False)
    assert await store.gallery_thumbnail(GUILD, shown, job.result_sha, 96) == (False, None)
