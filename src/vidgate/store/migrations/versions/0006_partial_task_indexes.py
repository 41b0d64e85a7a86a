"""Partial indexes on the task table: only active tasks are indexed for the queue and the
sweeper, only polled ones for the upstream poller; the key and channel indexes are gone (their
counters replaced them in 0005). Every status change used to write an entry into each of six
indexes; now a task's row is in at most four, and an ended one in two.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ACTIVE_SQL = "status IN ('pending', 'processing')"
POLLED_SQL = "status = 'processing' AND next_poll_at IS NOT NULL"
DROPPED = {
    "ix_tasks_status_created_at": ["status", "created_at"],
    "ix_tasks_status_next_poll_at": ["status", "next_poll_at"],
    "ix_tasks_channel_id_status": ["channel_id", "status"],
    "ix_tasks_status_lease_expires_at": ["status", "lease_expires_at"],
    "ix_tasks_key_id_status": ["key_id", "status"],
}


def upgrade() -> None:
    for name in DROPPED:
        op.drop_index(name, table_name="tasks")
    for index, columns, where in (
        ("ix_tasks_active", ["status", "created_at", "id"], ACTIVE_SQL),
        ("ix_tasks_next_poll", ["next_poll_at"], POLLED_SQL),
    ):
        op.create_index(index, "tasks", columns, postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def downgrade() -> None:
    op.drop_index("ix_tasks_next_poll", table_name="tasks")
    op.drop_index("ix_tasks_active", table_name="tasks")
    for name, columns in DROPPED.items():
        op.create_index(name, "tasks", columns)
