"""privacy: whose images a job uses, engine precision, indexes for purge and forget

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# (index, table, columns) added by this revision.
INDEXES = (
    ("ix_jobs_content_sha", "jobs", ["content_sha"]),
    ("ix_jobs_result_sha", "jobs", ["result_sha"]),
    ("ix_jobs_preview_sha", "jobs", ["preview_sha"]),
    ("ix_jobs_parent_job_id", "jobs", ["parent_job_id"]),
    ("ix_jobs_content_source_id", "jobs", ["content_source_id"]),
    ("ix_job_styles_source_user_id", "job_styles", ["source_user_id"]),
    ("ix_images_created_sha", "images", ["created_at", "sha"]),
)


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: rebuilding `jobs` on SQLite would cascade-delete
    # job_styles rows (foreign keys are on).
    op.add_column("jobs", sa.Column("content_source_id", sa.BigInteger(), nullable=True))
    op.add_column("jobs", sa.Column("precision", sa.String(length=8), nullable=True))
    op.add_column("job_styles", sa.Column("source_user_id", sa.BigInteger(), nullable=True))
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    # SQLite ≥ 3.35 drops a column in place (no table rebuild, see upgrade).
    op.drop_column("job_styles", "source_user_id")
    op.drop_column("jobs", "precision")
    op.drop_column("jobs", "content_source_id")
