"""A failed or cancelled task's message as a template and its parameters (JSON), beside its
English text, so that it is shown in the language of whoever reads the task. Tasks that ended
before keep their text alone and are shown as they are.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("error_detail", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("error_detail")
