"""delivery: leased delivery state machine on jobs, executor fencing token, worker sessions

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _job_columns() -> tuple[sa.Column, ...]:
    # Fresh objects per call: a Column belongs to one table, and tests migrate up twice.
    utc = sa.DateTime(timezone=True)
    return (
        sa.Column("delivery_state", sa.String(length=16), nullable=True),
        sa.Column("delivery_holder", sa.String(length=128), nullable=True),
        sa.Column("delivery_lease_until", utc, nullable=True),
        sa.Column("delivery_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("delivery_next_at", utc, nullable=True),
        sa.Column("delivery_target", sa.String(length=16), nullable=True),
        sa.Column("delivery_error", sa.Text(), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
    )


FINISHED = "('succeeded', 'failed', 'cancelled')"


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: rebuilding `jobs` on SQLite would cascade-delete
    # job_styles rows (foreign keys are on).
    for column in _job_columns():
        op.add_column("jobs", column)
    op.add_column("workers", sa.Column("session", sa.String(length=64), nullable=True))
    # Finished jobs enter the state machine: delivered ones are done, the rest wait for the bot.
    op.execute(
        f"UPDATE jobs SET delivery_state = CASE WHEN delivered_at IS NULL THEN 'pending' "
        f"ELSE 'delivered' END WHERE status IN {FINISHED}"
    )
    op.create_index(
        "ix_jobs_delivery_sweep", "jobs", ["delivery_state", "delivery_next_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_delivery_sweep", table_name="jobs")
    # SQLite ≥ 3.35 drops a column in place (no table rebuild, see upgrade).
    op.drop_column("workers", "session")
    for column in reversed(_job_columns()):
        op.drop_column("jobs", column.name)
