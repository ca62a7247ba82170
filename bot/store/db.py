"""Engine set-up and the transaction helpers every part of the store uses."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event, exists, insert, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.store.models import Base, Image, JobRow, JobStyle, ServerStyle
from bot.store.types import (
    DeliveryInfo,
    DeliveryState,
    InstallContext,
    InteractionRef,
    Job,
    JobParams,
    JobStatus,
    Progress,
)

SQLITE_BUSY_TIMEOUT_MS = 30_000

# Columns of JobRow in a fixed order so that Core selects map straight onto `Job`.
JOB_COLUMNS = tuple(JobRow.__table__.c)

# Values every write that finishes a job (succeeded, failed, cancelled) sets: the outcome now
# waits for the bot's delivery (`bot.store.delivery`), and the executor's fencing token ends.
FINISHED_DELIVERY: dict[str, Any] = {
    "delivery_state": DeliveryState.PENDING.value,
    "delivery_holder": None,
    "delivery_lease_until": None,
    "delivery_attempts": 0,
    "delivery_next_at": None,
    "delivery_target": None,
    "delivery_error": None,
    "claim_token": None,
}


def async_url(url: str) -> str:
    """The async-driver form of a database URL (plain `sqlite:`/`postgresql:` are accepted)."""
    u = make_url(url)
    if u.drivername in ("sqlite", "sqlite+pysqlite"):
        u = u.set(drivername="sqlite+aiosqlite")
    elif u.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None for PostgreSQL / in-memory databases."""
    u = make_url(url)
    if not u.drivername.startswith("sqlite") or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def ensure_sqlite_dir(url: str) -> None:
    path = sqlite_path(url)
    if path is not None:
        path.expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take over BEGIN from the driver so writers can use BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")  # safe in WAL mode, much faster commits
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A write transaction takes the write lock up front: a deferred one that upgrades
        # later fails with SQLITE_BUSY instead of waiting when another writer got in first.
        write = conn.get_execution_options().get("nst_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An AsyncEngine with the store's per-connection settings installed."""
    url = async_url(url)
    # Bound parameters include interaction tokens: keep them out of error messages and logs.
    common: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if make_url(url).drivername.startswith("sqlite"):
        ensure_sqlite_dir(url)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **common)
        _install_sqlite_hooks(engine)
        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, **common)


def image_referenced() -> Any:
    """SQL condition: some job still uses the image (as content, style, result or preview).

    One EXISTS per column, so each is a look-up in that column's index (an OR inside one
    EXISTS may make the planner scan every job for every image)."""
    return or_(
        exists().where(JobRow.content_sha == Image.sha),
        exists().where(JobRow.result_sha == Image.sha),
        exists().where(JobRow.preview_sha == Image.sha),
        exists().where(JobStyle.image_sha == Image.sha),
        # A server style's painting stays while the style exists (`bot.store.styles`).
        exists().where(ServerStyle.image_sha == Image.sha),
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Database:
    """Owns the engine; mixins build the store's operations on these helpers."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # Offset from this host's clock to the database server's (PostgreSQL): executors on
        # several hosts then stamp heartbeats and updates on one time line.
        self.clock_offset = timedelta(0)
        # Replaceable in tests (token expiry, retention) — always timezone-aware UTC.
        self.clock: Callable[[], datetime] = self._aligned_now

    def _aligned_now(self) -> datetime:
        return utcnow() + self.clock_offset

    async def sync_clock(self) -> timedelta:
        """Align `clock()` with the PostgreSQL server's clock (no-op on SQLite)."""
        if self.is_sqlite:
            return self.clock_offset
        async with self.engine.connect() as conn:
            before = utcnow()
            server = await conn.scalar(text("SELECT clock_timestamp()"))
            after = utcnow()
        self.clock_offset = server - (before + (after - before) / 2)
        return self.clock_offset

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def conflict_insert(self, table: type[Base]) -> sqlite.Insert | postgresql.Insert:
        """An INSERT in this database's dialect, so that it can end in
        `.on_conflict_do_nothing()` or `.on_conflict_do_update(index_elements=…, set_=…)`
        (SQLite and PostgreSQL spell ON CONFLICT alike; plain `insert` has no such clause)."""
        return sqlite.insert(table) if self.is_sqlite else postgresql.insert(table)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read transaction (one consistent snapshot)."""
        async with self.engine.connect() as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction; on SQLite it holds the database write lock from the start."""
        async with self.engine.connect() as conn:
            if self.is_sqlite:
                await conn.execution_options(nst_write=True)
            async with conn.begin():
                yield conn

    async def close(self) -> None:
        await self.engine.dispose()

    # -- shared helpers -------------------------------------------------------------------

    async def _put_image(
        self, conn: AsyncConnection, data: bytes, fmt: str, width: int, height: int
    ) -> str:
        sha = sha256(data)
        exists = await conn.scalar(select(Image.sha).where(Image.sha == sha))
        if exists is None:
            values = {
                "sha": sha,
                "data": data,
                "fmt": fmt.lower(),
                "width": int(width),
                "height": int(height),
                "size_bytes": len(data),
                "created_at": self.clock(),
            }
            # Two transactions may store the same new image at once (PostgreSQL); the
            # loser's insert is a no-op rather than an error.
            await conn.execute(
                self.conflict_insert(Image).values(**values).on_conflict_do_nothing()
            )
        return sha

    async def _delete_orphans(self, conn: AsyncConnection, shas: Sequence[str | None]) -> int:
        """Delete those of `shas` that no job references any more."""
        wanted = sorted({s for s in shas if s})
        if not wanted:
            return 0
        result = await conn.execute(delete(Image).where(Image.sha.in_(wanted), ~image_referenced()))
        return result.rowcount or 0

    async def _load_jobs(self, conn: AsyncConnection, stmt: Any) -> list[Job]:
        """Run a `select(*JOB_COLUMNS)` statement and attach each job's styles."""
        rows = (await conn.execute(stmt)).mappings().all()
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        styles: dict[int, list[tuple[str, float]]] = {i: [] for i in ids}
        sources: dict[int, list[int | None]] = {i: [] for i in ids}
        style_rows = await conn.execute(
            select(JobStyle.job_id, JobStyle.image_sha, JobStyle.weight, JobStyle.source_user_id)
            .where(JobStyle.job_id.in_(ids))
            .order_by(JobStyle.job_id, JobStyle.position)
        )
        for job_id, sha, weight, source in style_rows:
            styles[job_id].append((sha, weight))
            sources[job_id].append(source)
        return [row_to_job(r, styles[r["id"]], sources[r["id"]]) for r in rows]

    async def _load_job(self, conn: AsyncConnection, job_id: int) -> Job | None:
        jobs = await self._load_jobs(conn, select(*JOB_COLUMNS).where(JobRow.id == job_id))
        return jobs[0] if jobs else None

    async def _insert_styles(
        self,
        conn: AsyncConnection,
        job_id: int,
        styles: Sequence[tuple[str, float]],
        sources: Sequence[int | None],
    ) -> None:
        """Insert a job's style rows; `sources[i]` is whose image style i is."""
        await conn.execute(
            insert(JobStyle),
            [
                {
                    "job_id": job_id,
                    "position": i,
                    "image_sha": sha,
                    "weight": float(w),
                    "source_user_id": source,
                }
                for i, ((sha, w), source) in enumerate(zip(styles, sources, strict=True))
            ],
        )


def row_to_job(
    r: RowMapping, styles: Sequence[tuple[str, float]], style_sources: Sequence[int | None]
) -> Job:
    """Build the public `Job` value from a row mapping of `jobs` and its style rows; a NULL
    source (rows from before sources were recorded) means the owner."""
    owner = r["owner_id"]
    return Job(
        id=r["id"],
        owner_id=owner,
        guild_id=r["guild_id"],
        channel_id=r["channel_id"],
        status=JobStatus(r["status"]),
        params=_params_from_row(r),
        content_sha=r["content_sha"],
        styles=tuple(styles),
        interaction=_interaction_from_row(r),
        progress=Progress(
            scale=r["progress_scale"],
            scales=r["progress_scales"],
            step=r["progress_step"],
            total=r["progress_total"],
            eta_s=r["progress_eta_s"],
            updated_at=r["progress_at"],
        ),
        result_sha=r["result_sha"],
        preview_sha=r["preview_sha"],
        error_code=r["error_code"],
        error_message=r["error_message"],
        attempts=r["attempts"],
        crashes=r["crashes"],
        worker_id=r["worker_id"],
        cancel_requested=r["cancel_requested_at"] is not None,
        created_at=r["created_at"],
        started_at=r["started_at"],
        finished_at=r["finished_at"],
        heartbeat_at=r["heartbeat_at"],
        updated_at=r["updated_at"],
        delivered_at=r["delivered_at"],
        delivered_message_id=r["delivered_message_id"],
        delivered_channel_id=r["delivered_channel_id"],
        delivered_via=r["delivered_via"],
        elapsed_s=r["elapsed_s"],
        notes=r["notes"],
        content_source_id=owner if r["content_source_id"] is None else r["content_source_id"],
        style_source_ids=tuple(owner if s is None else s for s in style_sources),
        precision=r["precision"],
        delivery=_delivery_from_row(r),
    )


def _params_from_row(r: RowMapping) -> JobParams:
    return JobParams(
        size=r["size"],
        preset=r["preset"],
        style_strength=r["style_strength"],
        preserve_colors=bool(r["preserve_colors"]),
        init=r["init"],
        seed=r["seed"],
        private=bool(r["private"]),
        dm_on_done=bool(r["dm_on_done"]),
        parent_job_id=r["parent_job_id"],
    )


def _interaction_from_row(r: RowMapping) -> InteractionRef | None:
    if r["application_id"] is None:
        return None
    return InteractionRef(
        application_id=r["application_id"],
        token=r["interaction_token"],
        expires_at=r["token_expires_at"],
        message_id=r["response_message_id"],
        install_context=None
        if r["install_context"] is None
        else InstallContext(r["install_context"]),
        upload_limit=r["upload_limit"],
    )


def _delivery_from_row(r: RowMapping) -> DeliveryInfo:
    return DeliveryInfo(
        state=None if r["delivery_state"] is None else DeliveryState(r["delivery_state"]),
        holder=r["delivery_holder"],
        lease_until=r["delivery_lease_until"],
        attempts=r["delivery_attempts"] or 0,
        next_at=r["delivery_next_at"],
        target=r["delivery_target"],
        error=r["delivery_error"],
    )
