"""`Store`: the one object the bot and the executors use (see `bot.store` for the API)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.store.admission import AdmissionMixin
from bot.store.db import create_engine
from bot.store.delivery import DeliveryMixin
from bot.store.gallery import GalleryMixin
from bot.store.jobs import JobsMixin
from bot.store.prefs import PrefsMixin
from bot.store.queries import QueriesMixin
from bot.store.recovery import RecoveryMixin
from bot.store.retention import RetentionMixin
from bot.store.styles import StylesMixin
from bot.store.thumbnails import ThumbnailsMixin
from bot.store.types import StoreError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.settings import Settings
    from bot.store.ports import BotStore, ExecutorStore


class Store(
    JobsMixin,
    AdmissionMixin,
    QueriesMixin,
    RecoveryMixin,
    RetentionMixin,
    DeliveryMixin,
    PrefsMixin,
    GalleryMixin,
    ThumbnailsMixin,
    StylesMixin,
):
    """Async job store over SQLite or PostgreSQL. Create with `await Store.open(url)`."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        per_user_queue_limit: int = 3,
        global_queue_limit: int = 500,
        guild_queue_limit: int | None = None,
        cooldown_s: float = 0.0,
        max_size: int | None = None,
    ) -> None:
        super().__init__(engine)
        self.per_user_queue_limit = per_user_queue_limit
        self.global_queue_limit = global_queue_limit
        self.guild_queue_limit = guild_queue_limit
        self.cooldown_s = cooldown_s
        self.max_size = max_size

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        per_user_queue_limit: int = 3,
        global_queue_limit: int = 500,
        guild_queue_limit: int | None = None,
        cooldown_s: float = 0.0,
        max_size: int | None = None,
        echo: bool = False,
    ) -> Store:
        """Connect (the schema must exist: run `migrate(url)` first). `guild_queue_limit`:
        queued + running jobs one guild may have (None: no per-guild share)."""
        store = cls(
            create_engine(url, echo=echo),
            per_user_queue_limit=per_user_queue_limit,
            global_queue_limit=global_queue_limit,
            guild_queue_limit=guild_queue_limit,
            cooldown_s=cooldown_s,
            max_size=max_size,
        )
        await store.ping()
        await store.sync_clock()
        return store

    @classmethod
    async def from_settings(cls, settings: Settings, url: str | None = None) -> Store:
        """Open with the limits configured in `bot.settings`."""
        return await cls.open(
            url or settings.database_url,
            per_user_queue_limit=settings.per_user_queue_limit,
            global_queue_limit=settings.global_queue_limit,
            guild_queue_limit=settings.guild_queue_limit,
            cooldown_s=settings.cooldown_s,
            max_size=settings.max_size,
        )

    async def ping(self) -> bool:
        """True when the database answers (raises otherwise)."""
        async with self.read() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def check_schema(self) -> None:
        """Raise `StoreError("schema_missing", ...)` unless the schema is at the newest
        migration (one query; for processes that don't migrate themselves)."""
        from bot.store.migrate import head_revision

        head = head_revision()
        try:
            async with self.read() as conn:
                current = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        except DBAPIError:
            current = None
        if current != head:
            where = self.engine.url.render_as_string(hide_password=True)
            state = "no nst-bot schema" if current is None else f"schema {current}, not {head}"
            raise StoreError(
                "schema_missing",
                f"The database at {where} has {state}; run `nst-bot migrate`.",
            )

    def __repr__(self) -> str:
        # Never show the URL: it may carry a password.
        return f"<Store {self.dialect}>"

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


if TYPE_CHECKING:

    def _views(store: Store) -> tuple[ExecutorStore, BotStore]:
        """Never runs: mypy checks here that `Store` offers each process's view of it."""
        return store, store
