"""Delivery as leased state for the Discord process, and the expiry of interaction tokens.

A finished job's delivery goes pending → delivering (leased by one bot process: holder, lease
expiry, attempt number) → delivered | undeliverable, or back to pending with a next attempt
time after a transient failure. Only the lease holder posts: every write after the lease is
fenced by `holder` and state, so a process whose lease expired (and was taken over) can't
record anything. The bot records the destination before posting (`set_delivery_target`) and
posts with a nonce derived from the job and that destination, so a takeover after a crash
repeats the same post, which Discord drops inside its nonce window.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.db import JOB_COLUMNS, Database
from bot.store.models import JobRow
from bot.store.shards import ShardSet
from bot.store.types import FINISHED_STATUSES, DeliveryState, DeliveryTarget, Job

DELIVERY_CHANNELS = ("interaction", "channel", "dm", "none")
MAX_ERROR_CHARS = 500  # a reason is one line for /job and `nst-bot jobs`, not a traceback


class DeliveryMixin(Database):
    # ------------------------------------------------------------------ leasing
    def _leasable(self, now: datetime, *, web: bool = False) -> Any:
        """SQL: a finished job whose delivery is due (pending and not backing off) or whose
        holder's lease expired; Discord users' jobs, or with `web` the web playground's (see
        `is_web_owner`), so the bot never tries to post a browser's job."""
        return and_(
            JobRow.status.in_([s.value for s in FINISHED_STATUSES]),
            JobRow.owner_id < 0 if web else JobRow.owner_id >= 0,
            or_(
                and_(
                    JobRow.delivery_state == DeliveryState.PENDING.value,
                    or_(JobRow.delivery_next_at.is_(None), JobRow.delivery_next_at <= now),
                ),
                and_(
                    JobRow.delivery_state == DeliveryState.DELIVERING.value,
                    or_(JobRow.delivery_lease_until.is_(None), JobRow.delivery_lease_until < now),
                ),
            ),
        )

    def _lease_values(self, holder: str, now: datetime, lease_s: float) -> dict[str, Any]:
        return {
            "delivery_state": DeliveryState.DELIVERING.value,
            "delivery_holder": holder,
            "delivery_lease_until": now + timedelta(seconds=lease_s),
            "delivery_attempts": JobRow.delivery_attempts + 1,
        }

    async def lease_deliveries(
        self,
        holder: str,
        *,
        shards: ShardSet | None = None,
        limit: int = 20,
        lease_s: float = 60.0,
        web: bool = False,
    ) -> list[Job]:
        """Atomically take up to `limit` due deliveries (within `shards`) for `holder`,
        earliest next attempt first (a fresh job's is its finish time), so a few deliveries
        that keep failing never block the others. Each lease is one more attempt. `web`:
        the web face's jobs instead (see `_leasable`)."""
        _check_holder(holder)
        async with self.write() as conn:
            now = self.clock()
            due = select(JobRow.id).where(self._leasable(now, web=web))
            if shards is not None:
                due = due.where(shards.clause())
            due = due.order_by(
                func.coalesce(JobRow.delivery_next_at, JobRow.finished_at),
                JobRow.finished_at,
                JobRow.id,
            ).limit(limit)
            if self.is_sqlite:
                # BEGIN IMMEDIATE holds the write lock: pick and lease in one statement.
                ids = (
                    await conn.scalars(
                        update(JobRow)
                        .where(JobRow.id.in_(due.scalar_subquery()))
                        .values(**self._lease_values(holder, now, lease_s))
                        .returning(JobRow.id)
                    )
                ).all()
            else:
                picked = (await conn.scalars(due.with_for_update(skip_locked=True))).all()
                ids = []
                if picked:
                    ids = (
                        await conn.scalars(
                            update(JobRow)
                            .where(JobRow.id.in_(picked), self._leasable(now, web=web))
                            .values(**self._lease_values(holder, now, lease_s))
                            .returning(JobRow.id)
                        )
                    ).all()
            if not ids:
                return []
            stmt = select(*JOB_COLUMNS).where(JobRow.id.in_(ids))
            jobs = await self._load_jobs(conn, stmt)
        return sorted(jobs, key=_sweep_order)

    async def lease_delivery(
        self, job_id: int, holder: str, *, lease_s: float = 60.0, web: bool = False
    ) -> Job | None:
        """Lease one job's delivery (the watcher just saw it finish); None when it is not
        due: someone holds an unexpired lease, it is backing off, or it is done. `web`: the
        web face settles a browser's job (only those)."""
        _check_holder(holder)
        async with self.write() as conn:
            now = self.clock()
            result = await conn.execute(
                update(JobRow)
                .where(JobRow.id == job_id, self._leasable(now, web=web))
                .values(**self._lease_values(holder, now, lease_s))
            )
            if result.rowcount != 1:
                return None
            return await self._load_job(conn, job_id)

    def _held(self, job_id: int, holder: str) -> Any:
        return and_(
            JobRow.id == job_id,
            JobRow.delivery_state == DeliveryState.DELIVERING.value,
            JobRow.delivery_holder == holder,
        )

    async def _fenced_update(self, job_id: int, holder: str, **values: Any) -> bool:
        async with self.write() as conn:
            return await self._fenced(conn, job_id, holder, values)

    async def _fenced(
        self, conn: AsyncConnection, job_id: int, holder: str, values: dict[str, Any]
    ) -> bool:
        result = await conn.execute(
            update(JobRow).where(self._held(job_id, holder)).values(**values)
        )
        return result.rowcount == 1

    async def renew_delivery_lease(self, job_id: int, holder: str, *, lease_s: float) -> bool:
        """Extend `holder`'s lease (a slow upload); False when the lease is no longer theirs."""
        until = self.clock() + timedelta(seconds=lease_s)
        return await self._fenced_update(job_id, holder, delivery_lease_until=until)

    async def set_delivery_target(self, job_id: int, holder: str, target: str) -> bool:
        """Record the destination about to be posted to, BEFORE posting (fenced by holder):
        a takeover retries the recorded target first, with the same nonce, so a crash after a
        channel post can't become a second post somewhere else."""
        target = DeliveryTarget(target).value  # ValueError for anything else
        return await self._fenced_update(job_id, holder, delivery_target=target)

    # ------------------------------------------------------------------ outcomes
    async def mark_delivered(
        self,
        job_id: int,
        holder: str,
        message_id: int | None,
        channel_id: int | None,
        via: str,
    ) -> bool:
        """Record where the outcome went; False when `holder` no longer holds the lease.
        via: interaction, channel, dm or none (nothing could be posted and nothing needs
        to be)."""
        _check_via(via)
        async with self.write() as conn:
            now = self.clock()
            return await self._fenced(
                conn,
                job_id,
                holder,
                {
                    "delivery_state": DeliveryState.DELIVERED.value,
                    "delivery_lease_until": None,
                    "delivery_next_at": None,
                    "delivery_error": None,
                    "delivered_at": now,
                    "delivered_message_id": message_id,
                    "delivered_channel_id": channel_id,
                    "delivered_via": via,
                    "updated_at": now,
                },
            )

    async def delivery_failed(
        self, job_id: int, holder: str, *, reason: str, retry_in_s: float | None
    ) -> bool:
        """Record a failed attempt (fenced by holder). `retry_in_s` None: permanent, the job
        is undeliverable with `reason` (shown by /job and `nst-bot jobs`); else pending again,
        due in `retry_in_s` seconds. The bot classifies errors and picks the back-off."""
        reason = " ".join(reason.split())[:MAX_ERROR_CHARS] or "unknown error"
        async with self.write() as conn:
            now = self.clock()
            values: dict[str, Any] = {"delivery_lease_until": None, "delivery_error": reason}
            if retry_in_s is None:
                values |= {"delivery_state": DeliveryState.UNDELIVERABLE.value, "updated_at": now}
            else:
                values |= {
                    "delivery_state": DeliveryState.PENDING.value,
                    "delivery_holder": None,
                    "delivery_next_at": now + timedelta(seconds=max(0.0, retry_in_s)),
                }
            return await self._fenced(conn, job_id, holder, values)

    # ------------------------------------------------------------------ tokens
    async def expire_interaction_tokens(self, now: datetime | None = None) -> int:
        """Wipe interaction tokens past their expiry (they are secrets); returns how many."""
        now = now or self.clock()
        async with self.write() as conn:
            result = await conn.execute(
                update(JobRow)
                .where(JobRow.interaction_token.is_not(None), JobRow.token_expires_at <= now)
                .values(interaction_token=None)
            )
            return result.rowcount or 0


def _sweep_order(job: Job) -> tuple[Any, ...]:
    assert job.finished_at is not None
    return (job.delivery.next_at or job.finished_at, job.finished_at, job.id)


def _check_holder(holder: str) -> None:
    if not isinstance(holder, str) or not holder or len(holder) > 128:
        raise ValueError("holder must be a non-empty string of at most 128 characters")


def _check_via(via: str) -> None:
    if via not in DELIVERY_CHANNELS:
        raise ValueError(f"via must be one of {DELIVERY_CHANNELS}, not {via!r}")
