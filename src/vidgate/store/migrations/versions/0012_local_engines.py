"""Local engines (channels of provider ``local``): a channel's own settings block (the pipeline
family, folder, device, ...), and the seed a task was generated with, so that a result can be
made again.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("settings", sa.JSON))
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("seed", sa.BigInteger))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("seed")
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("settings")
