"""Each process's view of the store, as typed Protocols: the seams between the processes.

`Store` (bot.store.store) offers both; mypy proves it (`bot.store.store._views`). Code on one
side of a seam is typed against its Protocol, so a call the store does not offer — or a change
of a store signature its callers did not follow — fails `make lint`, and a test double only has
to offer what the Protocol names.

- `ExecutorStore`: what executor processes (and the supervisor's stale-job requeue) call.
- `BotStore`: what the Discord process calls (commands, progress, delivery, retention, health,
  the web face).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.store.styles import SERVER_STYLE_LIMIT

if TYPE_CHECKING:
    from bot.store.admission import GuildLimits
    from bot.store.shards import ShardSet
    from bot.store.styles import ServerStyle
    from bot.store.types import (
        ClaimedJob,
        GuildSettings,
        ImageBlob,
        InteractionRef,
        Job,
        JobParams,
        PurgeResult,
        QueueInfo,
        StaleAction,
        Stats,
        StoredImage,
        UserSettings,
        WorkerInfo,
    )
    from bot.store.visibility import Viewer


class ExecutorStore(Protocol):
    """The executor's side: claim, heartbeat, progress, outcome, giving jobs back.

    Every mutating call takes the claim's fencing `token` and returns False when the job is
    no longer this claim's (see `bot.store.claims`)."""

    clock: Callable[[], datetime]

    async def claim(self, worker_id: str) -> ClaimedJob | None: ...

    async def register_worker(
        self,
        worker_id: str,
        *,
        host: str | None,
        pid: int | None,
        session: str | None,
        max_crashes: int = 2,
    ) -> list[StaleAction]: ...

    async def unregister_worker(self, worker_id: str) -> None: ...

    async def workers(self, stale_after_s: float | None = None) -> list[WorkerInfo]: ...

    async def heartbeat(
        self,
        worker_id: str,
        job_id: int | None = None,
        *,
        host: str | None = None,
        pid: int | None = None,
        token: str | None = None,
    ) -> bool: ...

    async def report_progress(
        self,
        job_id: int,
        worker_id: str,
        *,
        scale: int,
        scales: int,
        step: int,
        total: int,
        eta_s: float | None,
        preview_jpeg: bytes | None = None,
        preview_size: tuple[int, int] | None = None,
        token: str | None = None,
    ) -> bool: ...

    async def is_cancel_requested(self, job_id: int) -> bool: ...

    async def complete(
        self,
        job_id: int,
        worker_id: str,
        result_png: bytes,
        width: int,
        height: int,
        elapsed_s: float,
        *,
        notes: Sequence[str] = (),
        precision: str | None = None,
        token: str | None = None,
    ) -> bool: ...

    async def fail(
        self, job_id: int, worker_id: str, code: str, message: str, *, token: str | None = None
    ) -> bool: ...

    async def mark_cancelled(
        self, job_id: int, worker_id: str, *, token: str | None = None
    ) -> bool: ...

    async def requeue(self, job_id: int, worker_id: str, *, token: str | None = None) -> bool: ...

    async def requeue_stale(
        self, stale_after_s: float, max_crashes: int = 2
    ) -> list[StaleAction]: ...

    async def recover_worker(
        self, worker_id: str, *, pid: int | None = None, crashed: bool, max_crashes: int = 2
    ) -> list[StaleAction]: ...

    async def close(self) -> None: ...


class BotStore(Protocol):
    """The Discord process's side: admission and submit, lookups, settings, delivery leases,
    retention and health."""

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...

    # -- jobs: admission, submit, lookups, cancel
    async def admit(
        self, owner_id: int, guild_id: int | None, channel_id: int | None, size: int
    ) -> None: ...

    async def guild_limits(self, guild_id: int | None) -> GuildLimits: ...

    async def submit(
        self,
        owner_id: int,
        guild_id: int | None,
        channel_id: int | None,
        content: ImageBlob,
        styles: Sequence[tuple[ImageBlob, float]],
        params: JobParams,
        interaction: InteractionRef | None = None,
    ) -> Job: ...

    async def get_job(self, job_id: int) -> Job | None: ...

    async def get_image(self, sha: str) -> StoredImage | None: ...

    async def set_response_message(self, job_id: int, message_id: int) -> None: ...

    async def request_cancel(
        self, job_id: int, viewer: Viewer | int, *, admin: bool = False
    ) -> Job: ...

    async def queue_info(self, job_id: int) -> QueueInfo | None: ...

    async def history(
        self, user_id: int, viewer: Viewer, limit: int = 10, offset: int = 0
    ) -> list[Job]: ...

    async def active_jobs(
        self, owner_id: int | None = None, *, shards: ShardSet | None = None
    ) -> list[Job]: ...

    async def updated_since(
        self, since: datetime, limit: int = 200, *, shards: ShardSet | None = None
    ) -> list[Job]: ...

    async def stats(self, guild_id: int | None = None) -> Stats: ...

    async def executors_online(self, stale_after_s: float = 20.0) -> int: ...

    # -- settings
    async def get_user_settings(self, user_id: int) -> UserSettings: ...

    async def set_user_settings(self, user_id: int, **changes: Any) -> UserSettings: ...

    async def users_with_private_default(self) -> set[int]: ...

    async def get_guild_settings(self, guild_id: int) -> GuildSettings: ...

    async def set_guild_settings(self, guild_id: int, **changes: Any) -> GuildSettings: ...

    # -- delivery (leased; see bot.store.delivery)
    async def lease_deliveries(
        self,
        holder: str,
        *,
        shards: ShardSet | None = None,
        limit: int = 20,
        lease_s: float = 60.0,
        web: bool = False,
    ) -> list[Job]: ...

    async def lease_delivery(
        self, job_id: int, holder: str, *, lease_s: float = 60.0, web: bool = False
    ) -> Job | None: ...

    async def renew_delivery_lease(self, job_id: int, holder: str, *, lease_s: float) -> bool: ...

    async def set_delivery_target(self, job_id: int, holder: str, target: str) -> bool: ...

    async def mark_delivered(
        self,
        job_id: int,
        holder: str,
        message_id: int | None,
        channel_id: int | None,
        via: str,
    ) -> bool: ...

    async def delivery_failed(
        self, job_id: int, holder: str, *, reason: str, retry_in_s: float | None
    ) -> bool: ...

    async def expire_interaction_tokens(self, now: datetime | None = None) -> int: ...

    # -- retention and privacy
    async def purge(
        self, older_than_days: float, *, now: datetime | None = None
    ) -> PurgeResult: ...

    async def forget_user(self, user_id: int) -> PurgeResult: ...

    # -- server galleries, server styles, thumbnails
    async def gallery_enabled(self, guild_id: int) -> bool: ...
    async def set_gallery(self, guild_id: int, enabled: bool) -> bool: ...
    async def server_styles(self, guild_id: int) -> list[ServerStyle]: ...
    async def get_server_style(self, guild_id: int, name: str) -> ServerStyle | None: ...
    async def add_server_style(
        self,
        guild_id: int,
        title: str,
        image: ImageBlob,
        added_by: int,
        *,
        reserved: Collection[str] = (),
        limit: int = SERVER_STYLE_LIMIT,
    ) -> ServerStyle: ...

    async def remove_server_style(self, guild_id: int, name: str) -> ServerStyle | None: ...
    async def get_thumbnail(self, sha: str, side: int) -> StoredImage | None: ...
    async def put_thumbnail(
        self, sha: str, side: int, data: bytes, fmt: str, width: int, height: int
    ) -> bool: ...
