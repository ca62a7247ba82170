"""Who may see a job, through the fake Discord: every viewer × job × surface cell.

Viewers act from a place (membership = where the interaction comes from): the owner from the
job's guild and from a DM, a member of that guild, a member of another guild, and someone in
a DM with the bot. Jobs are alice's: public or private, made in guild A or in a DM. Surfaces:
`/job`, `/history user:`, its paging button, each rerun button, the cancel button and the
`/job` autocomplete. Buttons are pressed by custom id from wherever the viewer is (a crafted
interaction), since hiding a button is no protection. A refused cell must look exactly like
a job that does not exist: no image, no embed, no parameters, no components.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from bot.discord_bot.variants import VARIANTS
from bot.store import Job, JobStatus, unseen_message
from tests.bot.discord_bot.test_buttons import result_png
from tests.bot.discord_bot.test_stylize_flow import png, queued_card

pytestmark = pytest.mark.timeout(120)


@dataclass(frozen=True)
class Seat:
    """A viewer: a user acting from guild "A" (the jobs' guild), "B" (another), or a DM."""

    name: str
    user: str
    place: str | None


SEATS = (
    Seat("owner", "alice", "A"),
    Seat("owner in a DM", "alice", None),
    Seat("same-guild member", "bob", "A"),
    Seat("other-guild member", "carol", "B"),
    Seat("viewer in a DM", "bob", None),
)
ADMINS = (Seat("admin of the job's guild", "ada", "A"), Seat("admin elsewhere", "ada", "B"))
KINDS = [(private, in_dm) for private, in_dm in itertools.product((False, True), (False, True))]


def may_see(seat: Seat, private: bool, in_dm: bool) -> bool:
    """The policy as the issue states it (written independently of the bot)."""
    return seat.user == "alice" or (not private and not in_dm and seat.place == "A")


class World:
    """One bot, two guilds and alice's jobs; helpers to act as a seat and read the answer."""

    def __init__(self, env) -> None:
        self.env, self.fake, self.store = env, env.fake, env.store
        self.guilds = {"A": self.fake.guild_id, "B": self.fake.add_guild("Other server")}
        self.fake.add_user("carol")
        self.fake.add_user("ada", admin=True)
        self.alice = int(self.fake.alice["id"])

    def where(self, seat: Seat) -> dict:
        return {"dm": True} if seat.place is None else {"guild": self.guilds[seat.place]}

    def uid(self, seat: Seat) -> int:
        return int(self.fake.user(seat.user)["id"])

    async def job(self, private: bool, in_dm: bool, strength: float, *, finish: bool) -> Job:
        """Alice runs /stylize in guild A or her DM; optionally the "executor" completes it."""
        fake = self.fake
        content = fake.add_attachment(png(), "cat.png", "image/png")
        style = fake.add_attachment(png((48, 64)), "style.png", "image/png")
        options = {"content": content, "style": style, "private": private, "strength": strength}
        place = {"dm": True} if in_dm else {"guild": self.guilds["A"]}
        await queued_card(self.env, await fake.slash("stylize", options, user="alice", **place))
        (job,) = await self.store.active_jobs(owner_id=self.alice)
        if finish:
            claimed = await self.store.claim("w1")
            assert claimed is not None and claimed.job.id == job.id
            await self.store.complete(job.id, "w1", result_png(), 64, 48, 0.1)
            # Wait for the bot to post the result, so no delivery runs during the checks.
            job = await fake.wait_until(lambda: self._delivered(job.id))
        return job

    async def _delivered(self, job_id: int) -> Job | None:
        job = await self.store.get_job(job_id)
        return job if job is not None and job.delivered_at is not None else None

    async def finished_jobs(self) -> dict[tuple[bool, bool], Job]:
        strengths = (1.25, 1.5, 1.75, 2.5)  # distinct, so a job's parameters are recognisable
        return {
            kind: await self.job(*kind, strength, finish=True)
            for kind, strength in zip(KINDS, strengths, strict=True)
        }

    async def answer(self, iid: str):
        """The message the interaction ended with (deferred ones once filled in)."""
        fake = self.fake
        return await fake.wait_until(
            lambda: (m := fake.original(iid)) is not None and not m.loading and m
        )


def marker(job: Job) -> str:
    return f"strength ×{job.params.style_strength:g}"


def assert_like_missing(msg, job: Job, cell: object) -> None:
    """A refused cell: exactly the text a missing job gets, nothing of the job."""
    assert msg.content == unseen_message(job.id), cell
    assert (msg.attachments, msg.embeds, msg.components) == ([], [], []), cell


def assert_not_listed(msg, job: Job, cell: object) -> None:
    assert f"#{job.id} —" not in msg.text() and marker(job) not in msg.text(), cell
    # A /history page shows the results it lists (a gallery): none of this job's.
    assert f"history-{job.id}.jpg" not in [a["filename"] for a in msg.attachments], cell
    assert not any(text.startswith(f"#{job.id} ·") for text, _ in msg.gallery()), cell
    assert not any(c.startswith(("nst:rerun:", "nst:cancel:")) for c in msg.custom_ids()), cell


async def test_job_history_paging_and_autocomplete_follow_the_policy(env) -> None:
    world = World(env)
    fake = world.fake
    jobs = await world.finished_jobs()
    for seat in SEATS:
        where = world.where(seat)
        listed = await world.answer(
            await fake.slash("history", {"user": fake.alice}, user=seat.user, **where)
        )
        paged = await world.answer(
            await fake.press(f"nst:history:{world.alice}:0", user=seat.user, **where)
        )
        for (private, in_dm), job in jobs.items():
            cell = (seat.name, "private" if private else "public", "DM" if in_dm else "guild")
            allowed = may_see(seat, private, in_dm)
            shown = await world.answer(
                await fake.slash("job", {"job_id": job.id}, user=seat.user, **where)
            )
            if allowed:
                assert f"Job #{job.id}" in shown.text() and marker(job) in shown.text(), cell
                assert shown.file(0).startswith(b"\x89PNG"), cell
                assert f"nst:rerun:{job.id}:stronger" in shown.custom_ids(), cell
            else:
                assert_like_missing(shown, job, cell)
            for page in (listed, paged):
                if allowed:
                    assert f"#{job.id} —" in page.text() and marker(job) in page.text(), cell
                else:
                    assert_not_listed(page, job, cell)
            typed = await fake.autocomplete(
                "job", {"job_id": str(job.id)}, focused="job_id", user=seat.user, **where
            )
            await fake.wait_until(lambda i=typed: fake.interaction(i).acked_type == 8)
            choices = fake.interaction(typed).choices or []
            # Suggestions are the viewer's own jobs only (a subset of what they may see).
            offered = job.id in [c["value"] for c in choices]
            assert offered == (seat.user == "alice"), cell
    assert set(env.error_codes()) == {"job_not_found"}


async def test_rerun_buttons_follow_the_policy(env) -> None:
    world = World(env)
    fake, store = world.fake, world.store
    jobs = await world.finished_jobs()
    for seat, ((private, in_dm), job), variant in itertools.product(SEATS, jobs.items(), VARIANTS):
        cell = (seat.name, "private" if private else "public", "DM" if in_dm else "guild", variant)
        me = world.uid(seat)
        iid = await fake.press(f"nst:rerun:{job.id}:{variant}", user=seat.user, **world.where(seat))
        msg = await world.answer(iid)
        if may_see(seat, private, in_dm):
            assert "queued" in msg.content, cell
            (child,) = await store.active_jobs(owner_id=me)
            assert child.params.parent_job_id == job.id, cell
            # The inputs stay alice's, so forgetting her removes this re-run too.
            assert child.content_source_id == world.alice, cell
            assert child.style_source_ids == (world.alice,), cell
            await store.request_cancel(child.id, me)
        else:
            assert_like_missing(msg, job, cell)
            assert await store.active_jobs(owner_id=me) == [], cell


async def test_cancel_button_follows_the_policy(env) -> None:
    world = World(env)
    fake, store = world.fake, world.store
    for seat, (private, in_dm) in itertools.product(SEATS + ADMINS, KINDS):
        cell = (seat.name, "private" if private else "public", "DM" if in_dm else "guild")
        job = await world.job(private, in_dm, 1.0, finish=False)
        iid = await fake.press(f"nst:cancel:{job.id}", user=seat.user, **world.where(seat))
        msg = await world.answer(iid)
        moderator = seat.user == "ada" and seat.place == "A" and not in_dm
        status = (await store.get_job(job.id)).status
        if seat.user == "alice" or moderator:
            assert msg.content == f"🚫 Cancelling job #{job.id}…", cell
            assert status is JobStatus.CANCELLED, cell
            continue
        assert status is JobStatus.QUEUED, cell
        if may_see(seat, private, in_dm):
            assert "only the person who started" in msg.content, cell
            assert (msg.attachments, msg.embeds, msg.components) == ([], [], []), cell
        else:
            assert_like_missing(msg, job, cell)
        await store.request_cancel(job.id, world.alice)
