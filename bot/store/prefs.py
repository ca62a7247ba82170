"""Per-user defaults and per-guild rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.db import Database
from bot.store.models import Base, GuildSettingsRow, UserSettingsRow
from bot.store.types import GuildSettings, UserSettings

USER_KEYS = ("size", "style_strength", "preserve_colors", "private", "dm_on_done", "preset")
GUILD_KEYS = ("allowed_channel_ids", "per_user_queue_limit", "max_size")


def _user(user_id: int, row: Any) -> UserSettings:
    if row is None:
        return UserSettings(user_id)
    return UserSettings(user_id, **{k: getattr(row, k) for k in USER_KEYS})


def _channels_from_text(text: str) -> tuple[int, ...]:
    """`guild_settings.allowed_channel_ids` is comma-separated ids ("" for every channel)."""
    return tuple(int(c) for c in text.split(",") if c)


def _channels_to_text(channel_ids: Sequence[int]) -> str:
    return ",".join(str(int(c)) for c in channel_ids)


def _guild(guild_id: int, row: Any) -> GuildSettings:
    if row is None:
        return GuildSettings(guild_id)
    return GuildSettings(
        guild_id,
        allowed_channel_ids=_channels_from_text(row.allowed_channel_ids),
        per_user_queue_limit=row.per_user_queue_limit,
        max_size=row.max_size,
    )


async def read_guild_settings(conn: AsyncConnection, guild_id: int) -> GuildSettings:
    """A server's rules as saved (defaults when none were): the one reader of the row, used
    by `get_guild_settings` and by admission (`bot.store.admission`)."""
    row = (
        await conn.execute(select(GuildSettingsRow).where(GuildSettingsRow.guild_id == guild_id))
    ).first()
    return _guild(guild_id, row)


class PrefsMixin(Database):
    async def _upsert(
        self, table: type[Base], key: str, key_value: int, values: dict[str, Any]
    ) -> None:
        values = {**values, "updated_at": self.clock()}
        stmt = self.conflict_insert(table).values({key: key_value, **values})
        async with self.write() as conn:
            await conn.execute(stmt.on_conflict_do_update(index_elements=[key], set_=values))

    async def get_user_settings(self, user_id: int) -> UserSettings:
        """A user's saved defaults (fields are None where the bot default applies)."""
        async with self.read() as conn:
            row = (
                await conn.execute(
                    select(UserSettingsRow).where(UserSettingsRow.user_id == user_id)
                )
            ).first()
        return _user(user_id, row)

    async def set_user_settings(self, user_id: int, **changes: Any) -> UserSettings:
        """Change some of a user's defaults (a value of None resets that one)."""
        unknown = set(changes) - set(USER_KEYS)
        if unknown:
            raise TypeError(f"unknown user setting(s): {', '.join(sorted(unknown))}")
        current = await self.get_user_settings(user_id)
        merged = {k: getattr(current, k) for k in USER_KEYS} | changes
        await self._upsert(UserSettingsRow, "user_id", user_id, merged)
        return await self.get_user_settings(user_id)

    async def get_guild_settings(self, guild_id: int) -> GuildSettings:
        """A server's rules (defaults when none were saved)."""
        async with self.read() as conn:
            return await read_guild_settings(conn, guild_id)

    async def set_guild_settings(self, guild_id: int, **changes: Any) -> GuildSettings:
        """Change some of a server's rules; `allowed_channel_ids=[]` allows every channel."""
        unknown = set(changes) - set(GUILD_KEYS)
        if unknown:
            raise TypeError(f"unknown guild setting(s): {', '.join(sorted(unknown))}")
        current = await self.get_guild_settings(guild_id)
        merged: dict[str, Any] = {k: getattr(current, k) for k in GUILD_KEYS} | changes
        channels: Sequence[int] = merged["allowed_channel_ids"] or ()
        merged["allowed_channel_ids"] = _channels_to_text(channels)
        await self._upsert(GuildSettingsRow, "guild_id", guild_id, merged)
        return await self.get_guild_settings(guild_id)

    async def users_with_private_default(self) -> set[int]:
        """Ids of users whose saved default is `private=True` (one query over user_settings;
        the bot loads it once at start-up to pick an ephemeral defer without a DB read)."""
        async with self.read() as conn:
            rows = await conn.execute(
                select(UserSettingsRow.user_id).where(UserSettingsRow.private.is_(True))
            )
            return {user_id for (user_id,) in rows}
