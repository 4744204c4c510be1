"""Files uploaded for a conversation and not yet sent: who uploaded them, and where to.

Revision ID: 0004_media_uploads
Revises: 0003_identity
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_media_uploads"
down_revision = "0003_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media_uploads",
        sa.Column("sid", sa.String(length=34), nullable=False),
        sa.Column("conversation_sid", sa.String(length=34), nullable=False),
        sa.Column("identity", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sid"),
    )


def downgrade() -> None:
    op.drop_table("media_uploads")
