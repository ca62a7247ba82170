"""Which bot process owns a job: Discord's shard rule, in Python and as a SQL condition.

Discord routes a guild's events to shard `(guild_id >> 22) % shard_count`; DMs go to shard 0.
A bot process edits and delivers only the jobs of its own shards, so several processes on one
database never both post a result. `ShardSet.owns` and `ShardSet.clause` are the same rule
(a test checks they agree on both backends).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import literal_column, or_, true

from bot.store.models import JobRow

SNOWFLAKE_SHARD_SHIFT = 22  # a snowflake's timestamp starts at bit 22


def shard_of(guild_id: int | None, count: int) -> int:
    """The shard that receives this guild's events (a DM, `guild_id` None, is shard 0)."""
    if count < 1:
        raise ValueError(f"shard count must be at least 1, not {count}")
    if guild_id is None:
        return 0
    return (guild_id >> SNOWFLAKE_SHARD_SHIFT) % count


@dataclass(frozen=True, slots=True)
class ShardSet:
    """The shards one bot process runs: `ids` out of `count`."""

    count: int
    ids: frozenset[int]

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"shard count must be at least 1, not {self.count}")
        if not self.ids:
            raise ValueError("a shard set needs at least one shard id")
        outside = sorted(i for i in self.ids if not 0 <= i < self.count)
        if outside:
            raise ValueError(
                f"shard ids {outside} are outside 0..{self.count - 1} (shard count {self.count})"
            )

    @classmethod
    def all(cls, count: int = 1) -> ShardSet:
        """Every shard of `count` (one process runs them all)."""
        return cls(count, frozenset(range(count)))

    @property
    def is_all(self) -> bool:
        return len(self.ids) == self.count

    def owns(self, guild_id: int | None) -> bool:
        """Whether a job made in this guild (None: a DM) belongs to these shards."""
        return shard_of(guild_id, self.count) in self.ids

    def clause(self) -> Any:
        """`owns` as a SQL condition on `jobs.guild_id` (SQLite and PostgreSQL alike)."""
        if self.is_all:
            return true()
        ids = sorted(self.ids)
        # Guild ids are positive snowflakes below 2**63, so `>>` on BIGINT is exact on both
        # backends. The literals are inlined: they are ours, and a bound parameter inside `%`
        # makes PostgreSQL guess its type.
        shard = (JobRow.guild_id.op(">>")(literal_column(str(SNOWFLAKE_SHARD_SHIFT)))).op("%")(
            literal_column(str(self.count))
        )
        owned = shard.in_(ids)  # NULL (a DM) for every guild_id IS NULL row
        return or_(JobRow.guild_id.is_(None), owned) if 0 in self.ids else owned

    def __str__(self) -> str:
        return f"shards {','.join(map(str, sorted(self.ids)))} of {self.count}"
