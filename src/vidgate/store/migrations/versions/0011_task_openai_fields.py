"""What a client asked through OpenAI's video API (``POST /v1/videos``) in that API's own terms:
the ``size`` and ``seconds`` it sent and, for a remix, the video it was made from
(``remixed_from_video_id``). Shown back on the task's video object (``openai_api.video``);
NULL for tasks submitted through apimart's API, whose video object is worked out from the
request alone.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("openai_fields", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("openai_fields")
