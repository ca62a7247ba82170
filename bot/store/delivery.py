"""Delivery bookkeeping for the Discord process, and the expiry of interaction tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from bot.store.db import JOB_COLUMNS, Database
from bot.store.models import JobRow
from bot.store.types import FINISHED_STATUSES, Job

DELIVERY_CHANNELS = ("interaction", "channel", "dm", "none")


class DeliveryMixin(Database):
    async def undelivered(self, limit: int = 50) -> list[Job]:
        """Finished jobs whose outcome has not been delivered yet, oldest first."""
        stmt = (
            select(*JOB_COLUMNS)
            .where(
                JobRow.status.in_([s.value for s in FINISHED_STATUSES]),
                JobRow.delivered_at.is_(None),
            )
            .order_by(JobRow.finished_at, JobRow.id)
            .limit(limit)
        )
        async with self.read() as conn:
            return await self._load_jobs(conn, stmt)

    async def mark_delivered(
        self, job_id: int, message_id: int | None, channel_id: int | None, via: str
    ) -> bool:
        """Record where the outcome went; False if the job is gone or already delivered."""
        if via not in DELIVERY_CHANNELS:
            raise ValueError(f"via must be one of {DELIVERY_CHANNELS}, not {via!r}")
        async with self.write() as conn:
            now = self.clock()
            result = await conn.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.delivered_at.is_(None))
                .values(
                    delivered_at=now,
                    delivered_message_id=message_id,
                    delivered_channel_id=channel_id,
                    delivered_via=via,
                    updated_at=now,
                )
            )
            return result.rowcount == 1

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
