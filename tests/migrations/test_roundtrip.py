"""Alembic migrations: empty and populated databases to head and back, on both backends;
the models and the migrations describe the same schema."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from bot.store import DeliveryState, Store, StoreError, migrate
from bot.store.migrate import current_revision, head_revision, sync_url
from bot.store.models import Base
from tests.bot.store.helpers import submit
from tests.bot.store.pg import fresh_database

TABLES = {
    "images",
    "jobs",
    "job_styles",
    "user_settings",
    "guild_settings",
    "workers",
    "thumbnails",
    "server_styles",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """An empty database (not migrated), on each backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/nested/dir/nst.db"  # parent dirs don't exist
        return
    with fresh_database(request.getfixturevalue("postgres_url")) as url:
        yield url


def _tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


async def _populate(url: str) -> list[int]:
    store = await Store.open(url)
    try:
        ids = [await submit(store, user, f"c{user}") for user in (1, 2, 3)]
        claimed = await store.claim("w1")
        assert claimed is not None
        await store.complete(claimed.job.id, "w1", b"result", 8, 8, 1.0)
        await store.set_user_settings(1, size=256)
        await store.set_guild_settings(9, allowed_channel_ids=[1, 2])
        return ids
    finally:
        await store.close()


async def _count_jobs(url: str) -> int:
    store = await Store.open(url)
    try:
        return len(await store.recent_jobs(100))
    finally:
        await store.close()


def test_empty_database_up_and_down(empty_url: str) -> None:
    assert current_revision(empty_url) is None
    migrate(empty_url)
    assert _tables(empty_url) == TABLES
    assert current_revision(empty_url) == head_revision()
    migrate(empty_url, "base")
    assert _tables(empty_url) == set() and current_revision(empty_url) is None
    migrate(empty_url)
    assert _tables(empty_url) == TABLES


def test_populated_database_up_down_up(empty_url: str) -> None:
    migrate(empty_url)
    ids = asyncio.run(_populate(empty_url))
    assert asyncio.run(_count_jobs(empty_url)) == len(ids)
    migrate(empty_url)  # idempotent at head: data untouched
    assert asyncio.run(_count_jobs(empty_url)) == len(ids)
    migrate(empty_url, "base")
    assert _tables(empty_url) == set()
    migrate(empty_url, "head")
    assert asyncio.run(_count_jobs(empty_url)) == 0
    asyncio.run(_populate(empty_url))  # usable again after the round trip


def test_models_match_migrations(empty_url: str) -> None:
    migrate(empty_url)
    engine = create_engine(sync_url(empty_url))
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


async def test_check_schema(empty_url: str) -> None:
    store = await Store.open(empty_url)
    try:
        with pytest.raises(StoreError) as missing:
            await store.check_schema()
        assert missing.value.code == "schema_missing" and "nst-bot migrate" in missing.value.message
        await asyncio.to_thread(migrate, empty_url)
        await store.check_schema()
    finally:
        await store.close()


async def test_sqlite_connection_settings(tmp_path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/p.db"
    migrate(url)
    store = await Store.open(url)
    try:
        async with store.read() as conn:
            mode = await conn.scalar(text("PRAGMA journal_mode"))
            fks = await conn.scalar(text("PRAGMA foreign_keys"))
            busy = await conn.scalar(text("PRAGMA busy_timeout"))
        assert (mode, fks) == ("wal", 1) and busy >= 1000
    finally:
        await store.close()


def test_secret_free_repr_and_errors(tmp_path) -> None:
    url = "postgresql+psycopg://nst:hunter2@127.0.0.1:1/nst"
    from bot.store.db import create_engine as store_engine

    store = Store(store_engine(url))
    assert "hunter2" not in repr(store)
    asyncio.run(store.close())


@pytest.mark.postgres
def test_hosts_migrating_at_once_on_postgres(postgres_url: str) -> None:
    """Several hosts starting together all migrate successfully (one at a time)."""
    with fresh_database(postgres_url) as url, ProcessPoolExecutor(4) as pool:
        assert list(pool.map(migrate, [url] * 4)) == [None] * 4
        assert _tables(url) == TABLES


def test_upgrade_from_0001_keeps_jobs_and_reads_missing_sources_as_the_owner(
    empty_url: str,
) -> None:
    """Rows made before 0002 have no input sources: they read as the owner's images, and
    the new columns, indexes and job styles arrive without losing a row."""
    migrate(empty_url, "0001")
    engine = create_engine(sync_url(empty_url))
    try:
        with engine.begin() as conn:
            now = "2026-01-01 00:00:00"
            for sha in ("c" * 64, "s" * 64):
                conn.execute(
                    text(
                        "INSERT INTO images (sha, data, fmt, width, height, size_bytes, "
                        "created_at) VALUES (:sha, :data, 'png', 1, 1, 1, :now)"
                    ),
                    {"sha": sha, "data": b"x", "now": now},
                )
            conn.execute(
                text(
                    "INSERT INTO jobs (id, owner_id, status, content_sha, size, preset, "
                    "style_strength, preserve_colors, init, private, dm_on_done, attempts, "
                    "crashes, progress_scale, progress_scales, progress_step, progress_total, "
                    "created_at, updated_at) VALUES (5, 42, 'queued', :c, 64, 'fast', 1.0, "
                    "false, 'content', false, false, 0, 0, 0, 0, 0, 0, :now, :now)"
                ),
                {"c": "c" * 64, "now": now},
            )
            conn.execute(text("INSERT INTO job_styles VALUES (5, 0, :s, 1.0)"), {"s": "s" * 64})
    finally:
        engine.dispose()
    migrate(empty_url)

    async def read() -> None:
        store = await Store.open(empty_url)
        try:
            job = await store.get_job(5)
            assert job is not None and job.styles == (("s" * 64, 1.0),)
            assert job.content_source_id == 42 and job.style_source_ids == (42,)
            assert job.precision is None
        finally:
            await store.close()

    asyncio.run(read())
    migrate(empty_url, "0001")  # and back down, keeping the row
    engine = create_engine(sync_url(empty_url))
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM job_styles")) == 1
            columns = {c["name"] for c in inspect(conn).get_columns("jobs")}
            assert "content_source_id" not in columns and "owner_id" in columns
    finally:
        engine.dispose()


def test_upgrade_to_0003_puts_finished_jobs_into_the_delivery_state_machine(
    empty_url: str,
) -> None:
    """Finished and delivered → delivered; finished, not delivered → pending; others none."""
    migrate(empty_url, "0002")
    engine = create_engine(sync_url(empty_url))
    now = "2026-01-01 00:00:00"
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO images (sha, data, fmt, width, height, size_bytes, created_at) "
                    "VALUES (:sha, :data, 'png', 1, 1, 1, :now)"
                ),
                {"sha": "c" * 64, "data": b"x", "now": now},
            )
            for job_id, status, delivered in (
                (1, "queued", None),
                (2, "succeeded", now),
                (3, "failed", None),
            ):
                conn.execute(
                    text(
                        "INSERT INTO jobs (id, owner_id, status, content_sha, size, preset, "
                        "style_strength, preserve_colors, init, private, dm_on_done, attempts, "
                        "crashes, progress_scale, progress_scales, progress_step, "
                        "progress_total, created_at, updated_at, delivered_at) VALUES (:id, 42, "
                        ":status, :c, 64, 'fast', 1.0, false, 'content', false, false, 0, 0, "
                        "0, 0, 0, 0, :now, :now, :delivered)"
                    ),
                    {
                        "id": job_id,
                        "status": status,
                        "c": "c" * 64,
                        "now": now,
                        "delivered": delivered,
                    },
                )
    finally:
        engine.dispose()
    migrate(empty_url)

    async def states() -> list[object]:
        store = await Store.open(empty_url)
        try:
            jobs = [await store.get_job(i) for i in (1, 2, 3)]
            return [(j.delivery.state, j.delivery.attempts) for j in jobs if j is not None]
        finally:
            await store.close()

    assert asyncio.run(states()) == [
        (None, 0),
        (DeliveryState.DELIVERED, 0),
        (DeliveryState.PENDING, 0),
    ]
    migrate(empty_url, "0002")  # and back down, keeping the rows
    engine = create_engine(sync_url(empty_url))
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM jobs")) == 3
            columns = {c["name"] for c in inspect(conn).get_columns("jobs")}
            assert "delivery_state" not in columns and "claim_token" not in columns
    finally:
        engine.dispose()
