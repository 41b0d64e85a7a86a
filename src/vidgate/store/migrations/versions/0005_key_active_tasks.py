"""Counters kept in step with the task table, so hot paths check a limit in O(1): each key's
active (pending + processing) tasks, each channel's tasks in flight upstream.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("active_tasks", sa.Integer, nullable=False, server_default="0"))
    op.execute(
        "UPDATE api_keys SET active_tasks = (SELECT count(*) FROM tasks WHERE tasks.key_id = api_keys.id "
        "AND tasks.status IN ('pending', 'processing'))"
    )
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("in_flight", sa.Integer, nullable=False, server_default="0"))
    op.execute(
        "UPDATE channels SET in_flight = (SELECT count(*) FROM tasks WHERE tasks.channel_id = channels.id "
        "AND tasks.status = 'processing')"
    )


def downgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("in_flight")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("active_tasks")
