"""Cooperative cancellation, the janitor's bookkeeping, and indexes for the hot queries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("purged_at", sa.Double))
    op.create_index("ix_tasks_status_lease_expires_at", "tasks", ["status", "lease_expires_at"])
    op.create_index("ix_tasks_key_id_status", "tasks", ["key_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_tasks_key_id_status", "tasks")
    op.drop_index("ix_tasks_status_lease_expires_at", "tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("purged_at")
        batch.drop_column("cancel_requested")
