"""Server styles: paintings a guild's admins added to that guild's style library (`/config`).

    await store.add_server_style(guild_id, title, image: ImageBlob, added_by, *,
                                 reserved=(), limit=SERVER_STYLE_LIMIT) -> ServerStyle
        raises ServerStyleRefused(code, message); codes: bad_title, name_taken, limit_reached
    await store.remove_server_style(guild_id, name) -> ServerStyle | None
    await store.server_styles(guild_id) -> list[ServerStyle]          # by name
    await store.get_server_style(guild_id, name) -> ServerStyle | None

A style's `name` (its id in the `style_name` option) is made from its title by `style_name`;
`reserved` names (the bundled library's) are refused so a name always means one painting.
The style's image is an ordinary stored image: referenced while the row exists (the orphan
sweep keeps it), and `forget_user` deletes the styles its user added (`delete_styles_added_by`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.db import Database
from bot.store.models import ServerStyle as ServerStyleRow
from bot.store.types import ImageBlob, StoreError

SERVER_STYLE_LIMIT = 25  # per guild; also Discord's cap on autocomplete choices
NAME_MAX = 32
TITLE_MAX = 100


class ServerStyleRefused(StoreError):
    """`add_server_style` said no. Codes: `bad_title`, `name_taken`, `limit_reached`."""


@dataclass(frozen=True, slots=True)
class ServerStyle:
    """One server style (the image bytes stay in the image table: `get_image(image_sha)`)."""

    id: int
    guild_id: int
    name: str
    title: str
    image_sha: str
    added_by: int
    created_at: datetime


_COLUMNS = (
    ServerStyleRow.id,
    ServerStyleRow.guild_id,
    ServerStyleRow.name,
    ServerStyleRow.title,
    ServerStyleRow.image_sha,
    ServerStyleRow.added_by,
    ServerStyleRow.created_at,
)


def style_name(title: str) -> str:
    """The id made from a title: lower-case ASCII letters and digits joined by hyphens
    ("Monet's Water Lilies" → "monets-water-lilies"), at most `NAME_MAX` characters."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_title.lower().replace("'", ""))
    return "-".join(words)[:NAME_MAX].strip("-")


def clean_title(title: str) -> str:
    """The title as stored: whitespace collapsed; raises `ServerStyleRefused` (bad_title)
    when it is empty, too long, or has no letter or digit to name it by."""
    cleaned = " ".join(title.split())
    if not cleaned or not style_name(cleaned):
        raise ServerStyleRefused(
            "bad_title", "A style needs a title with letters or digits (e.g. `Water Lilies`)."
        )
    if len(cleaned) > TITLE_MAX:
        raise ServerStyleRefused(
            "bad_title", f"A style's title can be at most {TITLE_MAX} characters."
        )
    return cleaned


class StylesMixin(Database):
    async def add_server_style(
        self,
        guild_id: int,
        title: str,
        image: ImageBlob,
        added_by: int,
        *,
        reserved: Collection[str] = (),
        limit: int = SERVER_STYLE_LIMIT,
    ) -> ServerStyle:
        """Store `image` and add it to the guild's styles under a name made from `title`."""
        title = clean_title(title)
        name = style_name(title)
        if name in reserved:
            raise ServerStyleRefused(
                "name_taken",
                f"`{name}` is a painting of the bot's own library; please pick another title.",
            )
        now = self.clock()
        try:
            async with self.write() as conn:
                count = await conn.scalar(
                    select(func.count())
                    .select_from(ServerStyleRow)
                    .where(ServerStyleRow.guild_id == guild_id)
                )
                if (count or 0) >= limit:
                    raise ServerStyleRefused(
                        "limit_reached",
                        f"This server already has {limit} styles, the most it can have; "
                        "remove one first (`/config remove_style`).",
                    )
                sha = await self._put_image(conn, image.data, image.fmt, image.width, image.height)
                new_id = await conn.scalar(
                    insert(ServerStyleRow)
                    .values(
                        guild_id=guild_id,
                        name=name,
                        title=title,
                        image_sha=sha,
                        added_by=added_by,
                        created_at=now,
                    )
                    .returning(ServerStyleRow.id)
                )
        except IntegrityError:
            # The unique (guild_id, name) constraint: checked by the database, so two admins
            # adding the same title at once cannot both succeed.
            raise ServerStyleRefused(
                "name_taken",
                f"This server already has a style called `{name}`; remove it first or pick "
                "another title.",
            ) from None
        assert new_id is not None
        return ServerStyle(int(new_id), guild_id, name, title, sha, added_by, now)

    async def server_styles(self, guild_id: int) -> list[ServerStyle]:
        """The guild's styles, by name."""
        async with self.read() as conn:
            rows = await conn.execute(
                select(*_COLUMNS)
                .where(ServerStyleRow.guild_id == guild_id)
                .order_by(ServerStyleRow.name)
            )
            return [ServerStyle(*row) for row in rows]

    async def get_server_style(self, guild_id: int, name: str) -> ServerStyle | None:
        """The guild's style called `name`, or None."""
        async with self.read() as conn:
            row = (
                await conn.execute(
                    select(*_COLUMNS).where(
                        ServerStyleRow.guild_id == guild_id, ServerStyleRow.name == name
                    )
                )
            ).first()
        return ServerStyle(*row) if row else None

    async def remove_server_style(self, guild_id: int, name: str) -> ServerStyle | None:
        """Remove the guild's style called `name` (its image too, unless a job uses it);
        returns what was removed, or None when there was no such style."""
        async with self.write() as conn:
            row = (
                await conn.execute(
                    select(*_COLUMNS).where(
                        ServerStyleRow.guild_id == guild_id, ServerStyleRow.name == name
                    )
                )
            ).first()
            if row is None:
                return None
            style = ServerStyle(*row)
            await conn.execute(delete(ServerStyleRow).where(ServerStyleRow.id == style.id))
            await self._delete_orphans(conn, [style.image_sha])
        return style


async def delete_styles_added_by(conn: AsyncConnection, user_id: int) -> list[str]:
    """Delete every server style `user_id` added (for `forget_user`, inside its write
    transaction); returns their images' SHAs, for the caller to delete those no job uses."""
    shas = list(
        await conn.scalars(
            select(ServerStyleRow.image_sha).where(ServerStyleRow.added_by == user_id)
        )
    )
    if shas:
        await conn.execute(delete(ServerStyleRow).where(ServerStyleRow.added_by == user_id))
    return shas
