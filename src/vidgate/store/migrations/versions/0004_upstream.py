"""Upstream channels, and the tasks' private upstream bookkeeping.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("base_url", sa.String(500), nullable=False),
        sa.Column("credentials", sa.Text, nullable=False),
        sa.Column("models", sa.JSON, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
        sa.Column("weight", sa.Integer, nullable=False, server_default="1"),
        sa.Column("max_concurrent", sa.Integer, nullable=False, server_default="10"),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("benched_until", sa.Double),
        sa.Column("bench_reason", sa.String(500)),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.UniqueConstraint("name", name="uq_channels_name"),
    )
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("channel_id", sa.String(40)))
        batch.add_column(sa.Column("upstream_id", sa.String(200)))
        batch.add_column(sa.Column("next_poll_at", sa.Double))
        batch.add_column(sa.Column("poll_errors", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("not_before", sa.Double))
        batch.add_column(sa.Column("quote", sa.BigInteger))
    op.create_index("ix_tasks_status_next_poll_at", "tasks", ["status", "next_poll_at"])
    op.create_index("ix_tasks_channel_id_status", "tasks", ["channel_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_tasks_channel_id_status", "tasks")
    op.drop_index("ix_tasks_status_next_poll_at", "tasks")
    with op.batch_alter_table("tasks") as batch:
        for column in ("quote", "not_before", "poll_errors", "next_poll_at", "upstream_id", "channel_id"):
            batch.drop_column(column)
    op.drop_table("channels")
