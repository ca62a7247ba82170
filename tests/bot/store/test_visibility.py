"""Who may see a job: the Python predicate and the SQL condition agree on every combination,
history follows them, and cancelling is the owner's or an admin's of the job's own guild."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from sqlalchemy import select

from bot.store import CancelRefused, Job, JobStatus, Store, Viewer, can_rerun, can_see
from bot.store.models import JobRow
from bot.store.visibility import unseen_message, visible_to
from tests.bot.store.helpers import TINY, submit

GUILD_A, GUILD_B = 100, 200
OWNER, OTHER, THIRD = 1, 2, 3
PLACES = (GUILD_A, GUILD_B, None)  # None: made in (or looking from) a DM
VIEWERS = [Viewer(u, g) for u, g in itertools.product((OWNER, OTHER, THIRD), PLACES)]


async def every_kind_of_job(store: Store) -> list[Job]:
    """A job of two owners for each place × public/private (cancelled, so no cap is hit)."""
    jobs = []
    for owner, guild, private in itertools.product((OWNER, OTHER), PLACES, (False, True)):
        params = dataclasses.replace(TINY, private=private)
        job_id = await submit(store, owner, f"{owner}{guild}{private}", guild=guild, params=params)
        jobs.append(await store.request_cancel(job_id, owner))
    return jobs


def rule(job: Job, viewer: Viewer) -> bool:
    """The policy as the issue states it, written out independently of the store."""
    if job.owner_id == viewer.user_id:
        return True
    return not job.params.private and job.guild_id is not None and viewer.guild_id == job.guild_id


async def test_predicate_and_sql_agree_on_every_combination(store: Store) -> None:
    jobs = await every_kind_of_job(store)
    assert len(jobs) == 12
    for viewer in VIEWERS:
        by_python = {j.id for j in jobs if can_see(j, viewer)}
        async with store.read() as conn:
            by_sql = set((await conn.scalars(select(JobRow.id).where(visible_to(viewer)))).all())
        assert by_sql == by_python, viewer
        assert by_python == {j.id for j in jobs if rule(j, viewer)}, viewer
        assert {j.id for j in jobs if can_rerun(j, viewer)} == by_python, viewer
    # Someone in guild A sees exactly the two public jobs made there; from a DM, nothing.
    public_in_a = {j.id for j in jobs if j.guild_id == GUILD_A and not j.params.private}
    assert {j.id for j in jobs if can_see(j, Viewer(THIRD, GUILD_A))} == public_in_a
    assert not any(can_see(j, Viewer(THIRD)) for j in jobs)


async def test_history_shows_what_the_viewer_may_see_newest_first(store: Store) -> None:
    jobs = await every_kind_of_job(store)
    for viewer, owner in itertools.product(VIEWERS, (OWNER, OTHER)):
        expected = [j.id for j in reversed(jobs) if j.owner_id == owner and can_see(j, viewer)]
        assert [j.id for j in await store.history(owner, viewer, limit=50)] == expected


@pytest.mark.parametrize(
    ("viewer", "admin", "outcomes"),
    [
        # outcomes for jobs made: public in A, private in A, in a DM
        (Viewer(OWNER, GUILD_B), False, ("ok", "ok", "ok")),
        (Viewer(OWNER), False, ("ok", "ok", "ok")),
        (Viewer(OTHER, GUILD_A), False, ("not_owner", "not_found", "not_found")),
        (Viewer(OTHER, GUILD_B), False, ("not_found", "not_found", "not_found")),
        (Viewer(OTHER), False, ("not_found", "not_found", "not_found")),
        (Viewer(OTHER, GUILD_A), True, ("ok", "ok", "not_found")),
        (Viewer(OTHER, GUILD_B), True, ("not_found", "not_found", "not_found")),
        (Viewer(OTHER), True, ("not_found", "not_found", "not_found")),
    ],
)
async def test_cancel_is_the_owners_or_an_admins_of_its_own_guild(
    store: Store, viewer: Viewer, admin: bool, outcomes: tuple[str, str, str]
) -> None:
    kinds = [(GUILD_A, False), (GUILD_A, True), (None, False)]
    for (guild, private), expected in zip(kinds, outcomes, strict=True):
        params = dataclasses.replace(TINY, private=private)
        job_id = await submit(store, OWNER, f"{guild}{private}", guild=guild, params=params)
        try:
            job = await store.request_cancel(job_id, viewer, admin=admin)
            outcome = "ok" if job.status is JobStatus.CANCELLED else "not cancelled"
        except CancelRefused as refused:
            outcome = refused.code
            if outcome == "not_found":  # word for word what a missing job gets
                assert refused.message == unseen_message(job_id)
            await store.request_cancel(job_id, OWNER)
        assert outcome == expected, (guild, private)
    with pytest.raises(CancelRefused) as missing:
        await store.request_cancel(424242, viewer, admin=admin)
    assert missing.value.code == "not_found" and missing.value.message == unseen_message(424242)
