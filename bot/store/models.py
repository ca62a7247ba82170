"""SQLAlchemy 2.x models. The migrations in `migrations/versions` create exactly this schema
(a test compares them), so change both together."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# SQLite only autoincrements a column declared exactly INTEGER PRIMARY KEY.
JobId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on every backend.

    PostgreSQL stores `timestamptz`; SQLite has no time zones, so naive UTC is stored (its
    ISO text sorts correctly) and UTC is re-attached on the way out. Naive input is a bug.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), int: BigInteger()}  # noqa: RUF012


class Image(Base):
    """Image bytes stored once per SHA-256 (inputs, results and previews)."""

    __tablename__ = "images"

    sha: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    fmt: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]

    # The orphan sweep walks images by age in batches from this index alone (covering: the
    # rows themselves, mostly image bytes, are never read).
    __table_args__ = (Index("ix_images_created_sha", "created_at", "sha"),)


class JobRow(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(JobId, primary_key=True, autoincrement=True)
    owner_id: Mapped[int]
    guild_id: Mapped[int | None]
    channel_id: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16))

    # Parameters
    content_sha: Mapped[str] = mapped_column(String(64), ForeignKey("images.sha"))
    # Whose photo the content is (the uploader, or the author of the message the "Stylize"
    # menu was used on); NULL = the owner. `forget_user` follows it.
    content_source_id: Mapped[int | None]
    size: Mapped[int] = mapped_column(Integer)
    preset: Mapped[str] = mapped_column(String(16))
    style_strength: Mapped[float] = mapped_column(Float)
    preserve_colors: Mapped[bool] = mapped_column(Boolean)
    init: Mapped[str] = mapped_column(String(16))
    seed: Mapped[int | None]
    private: Mapped[bool] = mapped_column(Boolean)
    dm_on_done: Mapped[bool] = mapped_column(Boolean)
    parent_job_id: Mapped[int | None] = mapped_column(
        JobId, ForeignKey("jobs.id", ondelete="SET NULL")
    )

    # The interaction to answer; the token is wiped when it expires.
    application_id: Mapped[int | None]
    interaction_token: Mapped[str | None] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None]
    response_message_id: Mapped[int | None]

    # Execution
    worker_id: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    crashes: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    progress_scale: Mapped[int] = mapped_column(Integer, default=0)
    progress_scales: Mapped[int] = mapped_column(Integer, default=0)
    progress_step: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    progress_eta_s: Mapped[float | None] = mapped_column(Float)
    progress_at: Mapped[datetime | None]
    preview_sha: Mapped[str | None] = mapped_column(String(64), ForeignKey("images.sha"))

    # Outcome
    result_sha: Mapped[str | None] = mapped_column(String(64), ForeignKey("images.sha"))
    elapsed_s: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[str | None] = mapped_column(Text)
    precision: Mapped[str | None] = mapped_column(String(8))  # "bf16" or "fp32"
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)

    # Times
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    delivered_message_id: Mapped[int | None]
    delivered_channel_id: Mapped[int | None]
    delivered_via: Mapped[str | None] = mapped_column(String(16))

    # Delivery state machine (bot side; `bot.store.delivery`): NULL until the job finishes.
    delivery_state: Mapped[str | None] = mapped_column(String(16))
    delivery_holder: Mapped[str | None] = mapped_column(String(128))
    delivery_lease_until: Mapped[datetime | None]
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    delivery_next_at: Mapped[datetime | None]
    delivery_target: Mapped[str | None] = mapped_column(String(16))
    delivery_error: Mapped[str | None] = mapped_column(Text)
    # Executor fencing: issued at claim; every executor write must present it.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    # "user" when the app acts through a user install where it is not a guild member: it can
    # only answer through the interaction (then a DM), never post in the channel.
    install_context: Mapped[str | None] = mapped_column(String(8))
    # The interaction's `attachment_size_limit` in bytes (NULL: Discord's default).
    upload_limit: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_jobs_status_created", "status", "created_at"),
        Index("ix_jobs_owner_started", "owner_id", "started_at"),
        Index("ix_jobs_owner_created", "owner_id", "created_at"),
        Index("ix_jobs_updated_at", "updated_at"),
        Index("ix_jobs_finished_at", "finished_at"),
        Index("ix_jobs_guild_id", "guild_id"),
        # Image references: "is this image still used?" and foreign-key checks on image and
        # job deletes are index look-ups instead of scans of every job.
        Index("ix_jobs_content_sha", "content_sha"),
        Index("ix_jobs_result_sha", "result_sha"),
        Index("ix_jobs_preview_sha", "preview_sha"),
        Index("ix_jobs_parent_job_id", "parent_job_id"),
        Index("ix_jobs_content_source_id", "content_source_id"),
        # The delivery sweep: pending/delivering jobs by next attempt time.
        Index("ix_jobs_delivery_sweep", "delivery_state", "delivery_next_at"),
    )


class JobStyle(Base):
    """The style images of a job with their blend weights."""

    __tablename__ = "job_styles"

    job_id: Mapped[int] = mapped_column(
        JobId, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_sha: Mapped[str] = mapped_column(String(64), ForeignKey("images.sha"), index=True)
    weight: Mapped[float] = mapped_column(Float)
    source_user_id: Mapped[int | None] = mapped_column(index=True)  # NULL = the job's owner


class UserSettingsRow(Base):
    __tablename__ = "user_settings"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    size: Mapped[int | None] = mapped_column(Integer)
    style_strength: Mapped[float | None] = mapped_column(Float)
    preserve_colors: Mapped[bool | None] = mapped_column(Boolean)
    private: Mapped[bool | None] = mapped_column(Boolean)
    dm_on_done: Mapped[bool | None] = mapped_column(Boolean)
    preset: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime]


class GuildSettingsRow(Base):
    __tablename__ = "guild_settings"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    allowed_channel_ids: Mapped[str] = mapped_column(Text, default="")  # comma-separated ids
    per_user_queue_limit: Mapped[int | None] = mapped_column(Integer)
    max_size: Mapped[int | None] = mapped_column(Integer)
    # Public jobs of this guild are shown at /g/<guild id> (admins turn it on, `/config`).
    gallery: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime]


class WorkerRow(Base):
    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    current_job_id: Mapped[int | None] = mapped_column(JobId)
    jobs_done: Mapped[int] = mapped_column(Integer, default=0)
    # What the executor dies together with: its supervisor's run, or (standalone) the host's
    # boot. Crash accounting compares it (`bot.store.recovery`).
    session: Mapped[str | None] = mapped_column(String(64))


class Thumbnail(Base):
    """A downscaled copy of a stored image, made once (gallery pages, history cards)."""

    __tablename__ = "thumbnails"

    image_sha: Mapped[str] = mapped_column(
        String(64), ForeignKey("images.sha", ondelete="CASCADE"), primary_key=True
    )
    side: Mapped[int] = mapped_column(Integer, primary_key=True)  # longest side in px
    data: Mapped[bytes] = mapped_column(LargeBinary)
    fmt: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class ServerStyle(Base):
    """A style painting a guild's admins added to that guild's style library (`/config`)."""

    __tablename__ = "server_styles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guild_id: Mapped[int]
    name: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    image_sha: Mapped[str] = mapped_column(String(64), ForeignKey("images.sha"), index=True)
    added_by: Mapped[int] = mapped_column(index=True)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("guild_id", "name", name="uq_server_styles_guild_name"),)
