"""Plain, immutable values the store hands out and accepts (no SQLAlchemy objects leak out)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from nst_engine import params as job_params

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from nst_engine.params import Param

# The job parameters' facts, from their one definition (nst_engine.params), under the names
# the store's callers use.
PRESETS = job_params.PRESET_NAMES
MIN_SIZE = job_params.MIN_SIZE
MIN_STRENGTH, MAX_STRENGTH = job_params.STYLE_STRENGTH.span
MAX_STYLES = job_params.MAX_STYLES
INTERACTION_TOKEN_TTL_S = 15 * 60  # Discord interaction tokens are valid for 15 minutes.


def is_web_owner(owner_id: int) -> bool:
    """Owners below zero are web-playground browsers (`bot.webui`), never Discord users (whose
    ids are positive snowflakes): their results are shown on the job page, never posted."""
    return owner_id < 0


class JobStatus(StrEnum):
    """queued → running → succeeded | failed | cancelled; running → queued on requeue."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
FINISHED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class DeliveryState(StrEnum):
    """How a finished job's outcome reaches Discord: pending → delivering (leased by one bot
    process) → delivered | undeliverable; delivering → pending again after a transient error."""

    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"


class DeliveryTarget(StrEnum):
    """Where a delivery attempt posts (recorded before the post; see `set_delivery_target`)."""

    INTERACTION = "interaction"
    CHANNEL = "channel"
    DM = "dm"


class InstallContext(StrEnum):
    """How the app was acting when a job was asked for; NULL in the store: as a guild member
    (or in its own DM), free to post in the channel."""

    # A user install where the bot is no member (a server without the bot, a group DM):
    # it answers only through the interaction, then by DM, never in the channel.
    USER = "user"


class StoreError(Exception):
    """Base of the store's refusals; `code` is stable for logs, `message` is for the user."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class QueueRefused(StoreError):
    """`submit` (or `admit`) said no. Codes: `user_limit`, `guild_full`, `queue_full`,
    `cooldown`, `bad_params`, `too_large`, `channel_not_allowed`, `parent_not_found`."""


class CancelRefused(StoreError):
    """`request_cancel` said no. Codes: `not_found`, `not_owner`, `already_finished`."""


@dataclass(frozen=True, slots=True)
class ImageBlob:
    """An input image as the caller decoded it: the store never imports Pillow."""

    data: bytes = field(repr=False)
    fmt: str  # "png", "jpeg", ... (lower case)
    width: int
    height: int
    # The user the image came from (the uploader, or the author of the message the "Stylize"
    # menu was used on); None = the submitter. `forget_user` follows it.
    source_user_id: int | None = None


@dataclass(frozen=True, slots=True)
class StoredImage:
    """An image row: deduplicated by the SHA-256 of its bytes."""

    sha: str
    data: bytes = field(repr=False)
    fmt: str
    width: int
    height: int

    @property
    def size_bytes(self) -> int:
        return len(self.data)


@dataclass(frozen=True, slots=True)
class JobParams:
    """Engine options of a job plus how its result is shared. The engine options (defaults,
    ranges, choices) are defined in `nst_engine.params`; each has a field here, and a column."""

    size: int = job_params.SIZE.default
    preset: str = job_params.PRESET.default
    style_strength: float = job_params.STYLE_STRENGTH.default
    preserve_colors: bool = job_params.PRESERVE_COLORS.default
    init: str = job_params.INIT.default
    seed: int | None = job_params.SEED.default
    private: bool = False  # hidden from other users' /history, result not posted publicly
    dm_on_done: bool = False
    parent_job_id: int | None = None  # a "re-roll"/variation of this job

    def problems(self, definitions: Iterable[Param[Any]] | None = None) -> list[str]:
        """Why these values would be refused (one sentence each), checked against every job
        parameter's definition (`nst_engine.params.JOB_PARAMS` unless given); empty when
        they are valid."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return job_params.problems(values, definitions or job_params.JOB_PARAMS)


@dataclass(frozen=True, slots=True)
class InteractionRef:
    """Where the bot answers: the deferred interaction. `token` is a secret (masked in repr)
    and is None once expired (15 min after the interaction)."""

    application_id: int
    token: str | None = field(repr=False)
    expires_at: datetime
    message_id: int | None = None  # the deferred response's message id, once known
    install_context: InstallContext | None = None  # USER: no channel posts (see the enum)
    upload_limit: int | None = None  # bytes per attachment (None: Discord's default)

    def __repr__(self) -> str:
        masked = "None" if self.token is None else "'***'"
        return (
            f"InteractionRef(application_id={self.application_id}, token={masked}, "
            f"expires_at={self.expires_at.isoformat()}, message_id={self.message_id}, "
            f"install_context={self.install_context}, upload_limit={self.upload_limit})"
        )


@dataclass(frozen=True, slots=True)
class Progress:
    """Last progress an executor reported (throttled to about 1 write/s)."""

    scale: int = 0
    scales: int = 0
    step: int = 0
    total: int = 0
    eta_s: float | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    """The delivery state machine of a job; `state` is None while the job is not finished."""

    state: DeliveryState | None = None
    holder: str | None = None  # the bot process holding the lease (or that delivered it)
    lease_until: datetime | None = None
    attempts: int = 0  # leases taken so far (each is one attempt)
    next_at: datetime | None = None  # earliest next attempt after a transient failure
    target: str | None = None  # interaction | channel | dm: the destination being tried
    error: str | None = None  # why the last attempt failed (why it is undeliverable)


@dataclass(frozen=True, slots=True)
class Job:
    """A job row, read-only. Timestamps are timezone-aware UTC."""

    id: int
    owner_id: int
    guild_id: int | None
    channel_id: int | None
    status: JobStatus
    params: JobParams
    content_sha: str
    styles: tuple[tuple[str, float], ...]  # (image sha, weight), in the user's order
    interaction: InteractionRef | None
    progress: Progress
    result_sha: str | None
    preview_sha: str | None
    error_code: str | None
    error_message: str | None
    attempts: int  # times claimed
    crashes: int  # times an executor died holding it (poison rule)
    worker_id: str | None
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    updated_at: datetime
    delivered_at: datetime | None
    delivered_message_id: int | None
    delivered_channel_id: int | None
    delivered_via: str | None
    elapsed_s: float | None  # engine time of a succeeded job
    notes: str | None  # engine notes, e.g. "out of memory at 1024 px; retried at 724 px"
    content_source_id: int  # whose photo the content is (the owner unless stated)
    style_source_ids: tuple[int, ...]  # whose each style image is, in the order of `styles`
    precision: str | None  # "bf16" or "fp32": what the engine ran (set at complete)
    delivery: DeliveryInfo = DeliveryInfo()

    @property
    def finished(self) -> bool:
        return self.status.finished


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """What an executor gets from `claim`: the job plus the input bytes it needs."""

    job: Job
    content: StoredImage
    styles: tuple[tuple[StoredImage, float], ...]
    # Fencing token issued by this claim: every executor write passes it, so a second process
    # that happens to use the same worker id (or a zombie of this one) can't touch the job.
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """Where a job stands. `position` is 1-based among queued jobs (0 when not queued)."""

    status: JobStatus
    position: int
    total_queued: int
    running: int
    eta_s: float | None  # seconds until the result is expected, from recent measured durations


@dataclass(frozen=True, slots=True)
class Stats:
    """Counters for /stats and the metrics endpoint."""

    queued: int
    running: int
    succeeded: int
    failed: int
    cancelled: int
    users: int
    avg_elapsed_s: float | None  # recent succeeded jobs
    executors_online: int


@dataclass(frozen=True, slots=True)
class UserSettings:
    """A user's defaults; None means "use the bot's default"."""

    user_id: int
    size: int | None = None
    style_strength: float | None = None
    preserve_colors: bool | None = None
    private: bool | None = None
    dm_on_done: bool | None = None
    preset: str | None = None


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """A server's rules; empty `allowed_channel_ids` means every channel, None means default."""

    guild_id: int
    allowed_channel_ids: tuple[int, ...] = ()
    per_user_queue_limit: int | None = None
    max_size: int | None = None


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """An executor process as last seen."""

    id: str
    host: str | None
    pid: int | None
    started_at: datetime
    heartbeat_at: datetime
    current_job_id: int | None
    jobs_done: int
    session: str | None = None  # the unit it dies with: a supervisor run, or the host's boot


@dataclass(frozen=True, slots=True)
class StaleAction:
    """What `requeue_stale` (or a worker's recovery) did to one job: `requeued`, `failed`
    (poison rule) or `cancelled`; `crashes` is the job's count after it (`crashed`: whether
    this one was counted against the job)."""

    job_id: int
    action: str
    worker_id: str | None
    crashes: int
    crashed: bool = True


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What `purge` / `forget_user` deleted, and how: write transactions used and the longest
    one's lock hold (from BEGIN IMMEDIATE to the end of COMMIT on SQLite)."""

    jobs: int
    images: int
    batches: int = 0
    longest_hold_s: float = 0.0
    total_hold_s: float = 0.0  # what one big transaction would have held the lock for
