"""library: server styles, cached thumbnails, the gallery switch, user-install jobs, upload limits

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _job_columns() -> tuple[sa.Column, ...]:
    # Fresh objects per call: a Column belongs to one table, and tests migrate up twice.
    return (
        sa.Column("install_context", sa.String(length=8), nullable=True),
        sa.Column("upload_limit", sa.Integer(), nullable=True),
    )


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: rebuilding `jobs` on SQLite would cascade-delete
    # job_styles rows (foreign keys are on).
    for column in _job_columns():
        op.add_column("jobs", column)
    op.add_column(
        "guild_settings",
        sa.Column("gallery", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "thumbnails",
        sa.Column(
            "image_sha",
            sa.String(length=64),
            sa.ForeignKey("images.sha", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("side", sa.Integer(), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("fmt", sa.String(length=16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "server_styles",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("image_sha", sa.String(length=64), sa.ForeignKey("images.sha"), nullable=False),
        sa.Column("added_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("guild_id", "name", name="uq_server_styles_guild_name"),
    )
    op.create_index("ix_server_styles_image_sha", "server_styles", ["image_sha"], unique=False)
    op.create_index("ix_server_styles_added_by", "server_styles", ["added_by"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_server_styles_added_by", table_name="server_styles")
    op.drop_index("ix_server_styles_image_sha", table_name="server_styles")
    op.drop_table("server_styles")
    op.drop_table("thumbnails")
    # SQLite ≥ 3.35 drops a column in place (no table rebuild, see upgrade).
    op.drop_column("guild_settings", "gallery")
    for column in reversed(_job_columns()):
        op.drop_column("jobs", column.name)
