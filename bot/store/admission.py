"""Admission: every limit a new job must pass, checked with one cheap read before any work.

The bot calls `admit` before it downloads or decodes a single attachment, and `submit` calls
the same `_admit` inside its write transaction, so the rules are written once and a job that
slipped past `admit` (a race with another submission) is still refused at `submit`.

Operators' settings are ceilings: a guild's saved `per_user_queue_limit` / `max_size` can only
lower `PER_USER_QUEUE_LIMIT` / `MAX_SIZE`, whatever the row says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Integer, Select, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.db import Database
from bot.store.models import JobRow
from bot.store.prefs import read_guild_settings
from bot.store.types import ACTIVE_STATUSES, GuildSettings, JobStatus, QueueRefused

_ACTIVE = [s.value for s in ACTIVE_STATUSES]


@dataclass(frozen=True, slots=True)
class GuildLimits:
    """The limits that apply in one place (a guild, or None for DMs): the operator's
    settings lowered by the guild's own rules."""

    guild_id: int | None
    allowed_channel_ids: tuple[int, ...]  # empty: every channel
    per_user_queue_limit: int
    max_size: int | None  # None: no size ceiling (a store opened without one)


def clamp_limits(
    rules: GuildSettings | None, per_user_cap: int, max_size_cap: int | None
) -> GuildLimits:
    """The effective limits: a guild's values count only where they are lower than the caps."""
    if rules is None:
        return GuildLimits(None, (), per_user_cap, max_size_cap)
    per_user = per_user_cap
    if rules.per_user_queue_limit is not None:
        per_user = min(per_user_cap, rules.per_user_queue_limit)
    max_size = max_size_cap
    if rules.max_size is not None:
        max_size = rules.max_size if max_size_cap is None else min(max_size_cap, rules.max_size)
    return GuildLimits(rules.guild_id, rules.allowed_channel_ids, per_user, max_size)


class AdmissionMixin(Database):
    per_user_queue_limit: int
    guild_queue_limit: int | None  # queued + running jobs of one guild; None: no share
    global_queue_limit: int
    cooldown_s: float
    max_size: int | None

    async def admit(
        self, owner_id: int, guild_id: int | None, channel_id: int | None, size: int
    ) -> None:
        """Raise `QueueRefused` if a job of `size` px by this user here would be refused now
        (codes, in the order checked: channel_not_allowed, too_large, user_limit, cooldown,
        queue_full, guild_full).

        One read transaction of two indexed queries: cheap enough to run before any download.
        """
        async with self.read() as conn:
            await self._admit(conn, owner_id, guild_id, channel_id, size)

    async def _check_quota(
        self,
        conn: AsyncConnection,
        owner_id: int,
        guild_id: int | None,
        channel_id: int | None,
        size: int,
    ) -> None:
        """`submit`'s quota step, inside its write transaction: the same rules the bot checked
        with `admit` before downloading anything, again, so that a race between two
        submissions can't pass."""
        if not self.is_sqlite:
            # Serialise one user's submissions so two at once can't both pass the cap (SQLite's
            # write lock, taken at BEGIN IMMEDIATE, already serialises every writer).
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": owner_id})
        await self._admit(conn, owner_id, guild_id, channel_id, size)

    async def guild_limits(self, guild_id: int | None) -> GuildLimits:
        """The effective limits in a guild (None: a DM), for showing them to people."""
        async with self.read() as conn:
            return await self._guild_limits(conn, guild_id)

    async def _guild_limits(self, conn: AsyncConnection, guild_id: int | None) -> GuildLimits:
        rules = None if guild_id is None else await read_guild_settings(conn, guild_id)
        return clamp_limits(rules, self.per_user_queue_limit, self.max_size)

    async def _admit(
        self,
        conn: AsyncConnection,
        owner_id: int,
        guild_id: int | None,
        channel_id: int | None,
        size: int,
    ) -> None:
        limits = await self._guild_limits(conn, guild_id)
        _check_place(limits, channel_id, size)
        mine, in_guild, queued, last = (await conn.execute(_counts(owner_id, guild_id))).one()
        if mine >= limits.per_user_queue_limit:
            raise QueueRefused(
                "user_limit",
                f"You already have {mine} job(s) waiting or running (the limit is "
                f"{limits.per_user_queue_limit}). Wait for one to finish or cancel one.",
            )
        self._check_cooldown(last)
        if queued >= self.global_queue_limit:
            raise QueueRefused(
                "queue_full",
                f"The queue is full ({queued} jobs waiting). Please try again in a few minutes.",
            )
        # Checked after the global cap: "this server has its share" is then the real reason.
        share = self.guild_queue_limit
        if guild_id is not None and share is not None and in_guild >= share:
            raise QueueRefused(
                "guild_full",
                f"This server already has {in_guild} jobs waiting or running, its whole share "
                f"of the queue ({share}). Please try again when some have finished.",
            )

    def _check_cooldown(self, last: datetime | None) -> None:
        if self.cooldown_s <= 0 or last is None:
            return
        wait = (last - self.clock()).total_seconds() + self.cooldown_s
        if wait > 0:
            raise QueueRefused(
                "cooldown", f"Please wait {math.ceil(wait)} s before starting another job."
            )


def _check_place(limits: GuildLimits, channel_id: int | None, size: int) -> None:
    """The rules that need no counting: the channel and the size ceiling."""
    allowed = limits.allowed_channel_ids
    if allowed and channel_id not in allowed:
        where = ", ".join(f"<#{c}>" for c in allowed)
        raise QueueRefused(
            "channel_not_allowed", f"Style transfer is not enabled in this channel; use {where}."
        )
    if limits.max_size is not None and size > limits.max_size:
        raise QueueRefused(
            "too_large",
            f"The largest output allowed here is {limits.max_size} px (you asked for {size} px).",
        )


def _counts(owner_id: int, guild_id: int | None) -> Select[int, int, int, datetime]:
    """Active jobs of the user, of the guild, queued in all, and the user's newest job."""
    # One statement over the active jobs only (ix_jobs_status_created), plus the user's
    # newest job for the cooldown (ix_jobs_owner_created).
    last = (
        select(func.max(JobRow.created_at)).where(JobRow.owner_id == owner_id)
    ).scalar_subquery()
    # DMs and user-installed contexts belong to no guild: no share to count there.
    in_guild: ColumnElement[int] = literal_column("0", Integer)
    if guild_id is not None:
        in_guild = func.count().filter(JobRow.guild_id == guild_id)
    return select(
        func.count().filter(JobRow.owner_id == owner_id),
        in_guild,
        func.count().filter(JobRow.status == JobStatus.QUEUED.value),
        last,
    ).where(JobRow.status.in_(_ACTIVE))
