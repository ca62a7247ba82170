"""Durable job store shared by the Discord process and the executors (no discord, no torch).

Async SQLAlchemy 2.x on SQLite (default; WAL, busy timeout, foreign keys on) or PostgreSQL
(scale-out: several executors on several hosts share one queue). Every timestamp in and out
is timezone-aware UTC. Job ids are integers. Values handed out are frozen dataclasses from
`bot.store.types`; nothing returned is bound to a session. Each process sees the store through
a typed Protocol of what it calls (`bot.store.ports`: `ExecutorStore`, `BotStore`).

Opening and schema
    store = await Store.open(url, per_user_queue_limit=3, global_queue_limit=500,
                             cooldown_s=0.0, max_size=None)
    store = await Store.from_settings(settings)          # same, limits from bot.settings
    await store.close()
    migrate(url, revision="head")  # sync (Alembic); call at start-up (in a thread if async):
    await asyncio.to_thread(migrate, url)
    await store.ping() -> bool
    await store.check_schema() -> None   # raises StoreError("schema_missing", ...) unless at head

Images (deduplicated by SHA-256; the caller decodes and passes dimensions)
    await store.put_image(data: bytes, fmt: str, width: int, height: int) -> str   # sha
    await store.get_image(sha: str) -> StoredImage | None

Bot side
    await store.admit(owner_id, guild_id, channel_id, size) -> None
        every limit, one cheap read before any download; raises QueueRefused like submit
    await store.guild_limits(guild_id: int | None) -> GuildLimits   # effective, for showing
    await store.submit(owner_id, guild_id, channel_id, content: ImageBlob,
                       styles: Sequence[tuple[ImageBlob, float]], params: JobParams,
                       interaction: InteractionRef | None = None) -> Job
        the job's rules, then the quota (admit's rules again, in the write transaction),
        then the insert; raises QueueRefused(code, message); codes: user_limit, guild_full,
        queue_full, cooldown, bad_params, too_large, channel_not_allowed, parent_not_found
    await store.set_response_message(job_id, message_id: int) -> None   # deferred reply's id
    await store.get_job(job_id) -> Job | None
    await store.queue_info(job_id) -> QueueInfo | None
        position (1-based, estimated under round-robin claiming), total, running, ETA from
        the mean of the last 20 measured jobs (None until one has run); a few indexed queries
    await store.request_cancel(job_id, viewer: Viewer | int, *, admin=False) -> Job
        queued → cancelled at once; running → flagged, the executor stops it within ~1 s.
        Owner, or `admin` acting from the job's own guild. raises CancelRefused(code,
        message); codes: not_found (also: a job the viewer may not see), not_owner,
        already_finished
    await store.history(user_id, viewer: Viewer, limit=10, offset=0) -> list[Job]
        newest first; only the jobs `viewer` may see (`bot.store.visibility`)

Who may see a job (bot.store.visibility, the one policy)
    Viewer(user_id, guild_id=None)     # guild_id: where the viewer is now; None in a DM
    can_see(job, viewer) / can_rerun(job, viewer) -> bool
        owner anywhere; a public guild job also by viewers in that guild, from there only
    visible_to(viewer) -> SQL condition on jobs (same rule, for list queries)
    unseen_message(job_id) -> str      # the answer for unseen and missing jobs alike
    await store.active_jobs(owner_id: int | None = None, *, shards=None) -> list[Job]
        queued + running; `shards` (ShardSet): only jobs of guilds on those shards
    await store.updated_since(since: datetime, limit=200, *, shards=None) -> list[Job]
        for progress edits: `updated_at > since`, oldest change first. Timestamps come
        from one clock (on PostgreSQL every process aligns its clock to the server's at
        open). On SQLite they follow commit order; on PostgreSQL concurrent writers may
        commit slightly out of order, so re-reading ~2 s of overlap is safer.
    await store.recent_jobs(limit=20, *, owner_id=None, status=None) -> list[Job]  # operators
    await store.stats(guild_id: int | None = None) -> Stats
    await store.executors_online(stale_after_s=20.0) -> int
    await store.workers(stale_after_s: float | None = None) -> list[WorkerInfo]

Shards (bot.store.shards): which bot process owns a job
    shard_of(guild_id: int | None, count) -> int     # (guild_id >> 22) % count; DM (None) → 0
    ShardSet(count, ids: frozenset[int]); ShardSet.all(count=1)
    shards.owns(guild_id) -> bool; shards.clause() -> the same rule as SQL on jobs.guild_id

Delivery (leased state; Job.delivery: DeliveryInfo(state, holder, lease_until, attempts,
next_at, target, error); state None until finished, then DeliveryState pending → delivering →
delivered | undeliverable, or pending again with next_at after a transient failure)
    await store.lease_deliveries(holder: str, *, shards: ShardSet | None = None, limit=20,
                                 lease_s=60.0, web=False) -> list[Job]
        atomically takes due deliveries (pending with next_at NULL or past, or delivering
        with an expired lease), earliest next attempt (a fresh job's: its finish) first
        (web=True: the web playground's jobs instead, which the web face settles);
        state delivering, holder, lease_until = now + lease_s, attempts + 1
    await store.lease_delivery(job_id, holder, *, lease_s=60.0, web=False) -> Job | None
        (jobs of web-playground owners, `is_web_owner`: only with web=True, for the web face)
        the same for one job; None when someone holds it, it backs off, or it is done
    await store.renew_delivery_lease(job_id, holder, *, lease_s) -> bool
    await store.set_delivery_target(job_id, holder, target: str) -> bool
        interaction|channel|dm, recorded BEFORE posting, so a takeover retries it first
    await store.mark_delivered(job_id, holder, message_id: int | None,
                               channel_id: int | None, via: str) -> bool
        via: interaction|channel|dm|none; state delivered. Every call after the lease is
        fenced (state delivering and holder matches) and returns False otherwise.
    await store.delivery_failed(job_id, holder, *, reason: str, retry_in_s: float | None)
        -> bool     # None: undeliverable with `reason`; else pending, due in retry_in_s
    await store.expire_interaction_tokens(now: datetime | None = None) -> int
        wipes tokens older than 15 min; Job.interaction.token is then None

Settings
    await store.get_user_settings(user_id) -> UserSettings   # all None = bot defaults
    await store.set_user_settings(user_id, **changes) -> UserSettings
        keys: size, style_strength, preserve_colors, private, dm_on_done, preset (None = reset)
    await store.users_with_private_default() -> set[int]     # saved private=True
    await store.get_guild_settings(guild_id) -> GuildSettings
    await store.set_guild_settings(guild_id, **changes) -> GuildSettings
        keys: allowed_channel_ids (Sequence[int]), per_user_queue_limit, max_size

Server styles (bot.store.styles: paintings a guild's admins added; ServerStyle rows)
    await store.add_server_style(guild_id, title, image: ImageBlob, added_by, *, reserved=(),
                                 limit=SERVER_STYLE_LIMIT) -> ServerStyle
        name = style_name(title); raises ServerStyleRefused: bad_title, name_taken, limit_reached
    await store.server_styles(guild_id) -> list[ServerStyle]; get_server_style(guild_id, name)
    await store.remove_server_style(guild_id, name) -> ServerStyle | None
        a style's image counts as referenced (orphan sweep); forget_user removes their styles

A server's web gallery (bot.store.gallery; shown at gallery_path(guild_id[, job_id]))
    await store.gallery_enabled(guild_id) -> bool; await store.set_gallery(guild_id, on) -> bool
    await store.gallery(guild_id, *, before=None, limit=24, retention_days=None)
        -> GalleryPage(guild_id, jobs, older) | None    # None: off or unknown guild
        newest first, keyset on job id (`before` = the previous page's `older`); public
        succeeded jobs made in that guild (the visibility policy), within retention
    await store.gallery_job(guild_id, job_id, *, retention_days=None) -> Job | None
    await store.gallery_has_image(guild_id, job_id, sha, ...) -> bool
    await store.gallery_thumbnail(guild_id, job_id, sha, side, ...)
        -> (shown, StoredImage | None)   # the check and the kept thumbnail in one query

Thumbnails (bot.store.thumbnails; made by the web face, off the event loop)
    await store.get_thumbnail(sha, side) -> StoredImage | None
    await store.put_thumbnail(sha, side, data, fmt, width, height) -> bool
        False: already kept, or the image is gone; deleted with their image (CASCADE)

Executor side (every mutating call checks worker_id and the claim's fencing `token=` — the
executor always passes `ClaimedJob.token`; None checks the worker id only — and returns False
when the job is no longer this claim's, e.g. it was requeued as stale or another process uses
the same worker id, so a zombie can't overwrite it)
    await store.claim(worker_id) -> ClaimedJob | None      # .token: this claim's fence
        atomic and fair: user with fewest running jobs, then longest since last served,
        then oldest job. SQLite: BEGIN IMMEDIATE + UPDATE … RETURNING; PG: SKIP LOCKED.
    await store.register_worker(worker_id, *, host, pid, session, max_crashes=2)
        -> list[StaleAction]   # a new process takes the id; its predecessor's jobs go back
    await store.heartbeat(worker_id, job_id: int | None = None, *, host=None, pid=None,
                          token=None) -> bool
        upserts the worker row; with job_id, refreshes the job's heartbeat and returns
        whether this worker still owns it
    await store.report_progress(job_id, worker_id, *, scale, scales, step, total,
                                eta_s: float | None, preview_jpeg: bytes | None = None,
                                preview_size: tuple[int, int] | None = None, token=None)
        -> bool
    await store.is_cancel_requested(job_id) -> bool
    await store.complete(job_id, worker_id, result_png: bytes, width, height, elapsed_s,
                         *, notes: Sequence[str] = (), precision=None, token=None) -> bool
    await store.fail(job_id, worker_id, code: str, message: str, *, token=None) -> bool
    await store.mark_cancelled(job_id, worker_id, *, token=None) -> bool  # engine stopped
    await store.requeue(job_id, worker_id, *, token=None) -> bool   # SIGTERM: queued, no crash
        (a finishing job — complete/fail/cancel, here or below — enters delivery "pending")
    await store.requeue_stale(stale_after_s: float, max_crashes: int = 2) -> list[StaleAction]
        running jobs with a stale heartbeat go back to queued, or fail with code
        "internal_error" once they have killed `max_crashes` executors (poison rule); a stale
        job whose cancel was requested becomes cancelled. A crash counts only when another
        executor of the dead one's host and session (its supervisor run, or for standalone
        executors the host's boot) heart-beat after the job did: a whole-service crash or a
        host restart is not the job's fault.
    await store.recover_worker(worker_id, *, pid=None, crashed: bool, max_crashes=2)
        -> list[StaleAction]   # the supervisor saw the executor exit: give its job back now
    await store.unregister_worker(worker_id) -> None

Retention and privacy (both in batches: each write transaction holds the lock ~40 ms)
    await store.purge(older_than_days: float, *, now=None) -> PurgeResult
        jobs finished before the cutoff, then images no job uses (older than 1 h)
    await store.forget_user(user_id) -> PurgeResult
        every job owned by the user or using an input that came from them
        (Job.content_source_id / Job.style_source_ids; ImageBlob.source_user_id at submit),
        the images and results of those jobs unless a remaining job uses them, settings
    PurgeResult(jobs, images, batches, longest_hold_s, total_hold_s)
"""

from __future__ import annotations

from bot.store.migrate import migrate
from bot.store.shards import ShardSet, shard_of
from bot.store.store import Store
from bot.store.types import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    INTERACTION_TOKEN_TTL_S,
    PRESETS,
    CancelRefused,
    ClaimedJob,
    DeliveryInfo,
    DeliveryState,
    DeliveryTarget,
    GuildSettings,
    ImageBlob,
    InteractionRef,
    Job,
    JobParams,
    JobStatus,
    Progress,
    PurgeResult,
    QueueInfo,
    QueueRefused,
    StaleAction,
    Stats,
    StoredImage,
    StoreError,
    UserSettings,
    WorkerInfo,
    is_web_owner,
)
from bot.store.visibility import Viewer, can_rerun, can_see, unseen_message

__all__ = [
    "ACTIVE_STATUSES",
    "FINISHED_STATUSES",
    "INTERACTION_TOKEN_TTL_S",
    "PRESETS",
    "CancelRefused",
    "ClaimedJob",
    "DeliveryInfo",
    "DeliveryState",
    "DeliveryTarget",
    "GuildSettings",
    "ImageBlob",
    "InteractionRef",
    "Job",
    "JobParams",
    "JobStatus",
    "Progress",
    "PurgeResult",
    "QueueInfo",
    "QueueRefused",
    "ShardSet",
    "StaleAction",
    "Stats",
    "Store",
    "StoreError",
    "StoredImage",
    "UserSettings",
    "Viewer",
    "WorkerInfo",
    "can_rerun",
    "can_see",
    "is_web_owner",
    "migrate",
    "shard_of",
    "unseen_message",
]
