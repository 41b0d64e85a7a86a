"""An index for listing an account's tasks newest first: (account_id, id). Task ids are ULIDs,
which sort by creation time, so ``account_id = ? AND id < ? ORDER BY id DESC`` reads a page
from where the last one ended (keyset pagination) at any depth. Neither column ever changes,
so status changes and heartbeats write nothing to it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tasks_account_id_id", "tasks", ["account_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_tasks_account_id_id", table_name="tasks")
