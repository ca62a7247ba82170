"""initial schema

Revision ID: 0001
Revises: -
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('guild_settings',
    sa.Column('guild_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('allowed_channel_ids', sa.Text(), nullable=False),
    sa.Column('per_user_queue_limit', sa.Integer(), nullable=True),
    sa.Column('max_size', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('guild_id')
    )
    op.create_table('images',
    sa.Column('sha', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('fmt', sa.String(length=16), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha')
    )
    op.create_table('user_settings',
    sa.Column('user_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('style_strength', sa.Float(), nullable=True),
    sa.Column('preserve_colors', sa.Boolean(), nullable=True),
    sa.Column('private', sa.Boolean(), nullable=True),
    sa.Column('dm_on_done', sa.Boolean(), nullable=True),
    sa.Column('preset', sa.String(length=16), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('workers',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('current_job_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('jobs_done', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_workers_heartbeat_at'), 'workers', ['heartbeat_at'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('owner_id', sa.BigInteger(), nullable=False),
    sa.Column('guild_id', sa.BigInteger(), nullable=True),
    sa.Column('channel_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('content_sha', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('preset', sa.String(length=16), nullable=False),
    sa.Column('style_strength', sa.Float(), nullable=False),
    sa.Column('preserve_colors', sa.Boolean(), nullable=False),
    sa.Column('init', sa.String(length=16), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=True),
    sa.Column('private', sa.Boolean(), nullable=False),
    sa.Column('dm_on_done', sa.Boolean(), nullable=False),
    sa.Column('parent_job_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('application_id', sa.BigInteger(), nullable=True),
    sa.Column('interaction_token', sa.Text(), nullable=True),
    sa.Column('token_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('response_message_id', sa.BigInteger(), nullable=True),
    sa.Column('worker_id', sa.String(length=128), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('crashes', sa.Integer(), nullable=False),
    sa.Column('cancel_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('progress_scale', sa.Integer(), nullable=False),
    sa.Column('progress_scales', sa.Integer(), nullable=False),
    sa.Column('progress_step', sa.Integer(), nullable=False),
    sa.Column('progress_total', sa.Integer(), nullable=False),
    sa.Column('progress_eta_s', sa.Float(), nullable=True),
    sa.Column('progress_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('preview_sha', sa.String(length=64), nullable=True),
    sa.Column('result_sha', sa.String(length=64), nullable=True),
    sa.Column('elapsed_s', sa.Float(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_message_id', sa.BigInteger(), nullable=True),
    sa.Column('delivered_channel_id', sa.BigInteger(), nullable=True),
    sa.Column('delivered_via', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['content_sha'], ['images.sha'], ),
    sa.ForeignKeyConstraint(['parent_job_id'], ['jobs.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['preview_sha'], ['images.sha'], ),
    sa.ForeignKeyConstraint(['result_sha'], ['images.sha'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_jobs_finished_at', 'jobs', ['finished_at'], unique=False)
    op.create_index('ix_jobs_guild_id', 'jobs', ['guild_id'], unique=False)
    op.create_index('ix_jobs_owner_created', 'jobs', ['owner_id', 'created_at'], unique=False)
    op.create_index('ix_jobs_owner_started', 'jobs', ['owner_id', 'started_at'], unique=False)
    op.create_index('ix_jobs_status_created', 'jobs', ['status', 'created_at'], unique=False)
    op.create_index('ix_jobs_updated_at', 'jobs', ['updated_at'], unique=False)

    op.create_table('job_styles',
    sa.Column('job_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('image_sha', sa.String(length=64), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['image_sha'], ['images.sha'], ),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'position')
    )
    op.create_index(op.f('ix_job_styles_image_sha'), 'job_styles', ['image_sha'], unique=False)



def downgrade() -> None:
    op.drop_index(op.f('ix_job_styles_image_sha'), table_name='job_styles')

    op.drop_table('job_styles')
    op.drop_index('ix_jobs_updated_at', table_name='jobs')
    op.drop_index('ix_jobs_status_created', table_name='jobs')
    op.drop_index('ix_jobs_owner_started', table_name='jobs')
    op.drop_index('ix_jobs_owner_created', table_name='jobs')
    op.drop_index('ix_jobs_guild_id', table_name='jobs')
    op.drop_index('ix_jobs_finished_at', table_name='jobs')

    op.drop_table('jobs')
    op.drop_index(op.f('ix_workers_heartbeat_at'), table_name='workers')

    op.drop_table('workers')
    op.drop_table('user_settings')
    op.drop_table('images')
    op.drop_table('guild_settings')
