"""Who may see a job: the one policy every surface (commands, buttons, lists) goes through.

A job may be seen by its owner anywhere (a guild, a DM with the bot). When it is public it
may also be seen by members of the guild it was made in, but only from inside that guild. A
private job, and a job made in a DM, is its owner's alone. "Member of a guild" means the
viewer is acting from that guild now (the interaction comes from it): the bot keeps no member
lists, and a viewer in a DM is treated as outside every guild.

`can_see` decides for one job, `visible_to` is the same rule as a SQL condition for list
queries; a test checks that the two agree on every combination.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_

from bot.store.models import JobRow
from bot.store.types import Job


@dataclass(frozen=True, slots=True)
class Viewer:
    """Someone looking at jobs: who they are and where they are now (None: a DM or any
    place outside a guild)."""

    user_id: int
    guild_id: int | None = None


def _visible(owner_id: int, guild_id: int | None, private: bool, viewer: Viewer) -> bool:
    if owner_id == viewer.user_id:
        return True
    return not private and guild_id is not None and guild_id == viewer.guild_id


def can_see(job: Job, viewer: Viewer) -> bool:
    """Whether `viewer` may see `job` at all: its details, its image, its buttons."""
    return _visible(job.owner_id, job.guild_id, job.params.private, viewer)


def can_rerun(job: Job, viewer: Viewer) -> bool:
    """Whether `viewer` may start a new job from `job`'s inputs: the owner anywhere, anyone
    else only for a public job and from inside the guild it was made in.

    Today this is exactly `can_see`; it is kept separate because re-using someone's photo
    is a stronger act than looking at it, and a caller must say which one it asks.
    """
    return can_see(job, viewer)


def unseen_message(job_id: int) -> str:
    """The one answer for a job the viewer may not see: the same as for a job that does not
    exist, so ids reveal nothing (no "private", no "not yours")."""
    return f"There is no job #{job_id} that you can see."


def visible_to(viewer: Viewer) -> ColumnElement[bool]:
    """`can_see` as a WHERE condition on `jobs` (portable to SQLite and PostgreSQL)."""
    mine = JobRow.owner_id == viewer.user_id
    if viewer.guild_id is None:
        return mine
    shared = and_(
        JobRow.private.is_(False),
        JobRow.guild_id.is_not(None),
        JobRow.guild_id == viewer.guild_id,
    )
    return or_(mine, shared)
