"""Per-account limits, and the price table kept in the database (versioned).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("rate_limit_per_minute", sa.Integer))
        batch.add_column(sa.Column("max_active_tasks", sa.Integer))
    op.create_table(
        "price_tables",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("note", sa.String(500)),
        sa.Column("created_at", sa.Double, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("price_tables")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("max_active_tasks")
        batch.drop_column("rate_limit_per_minute")
