"""Conversations a user muted, and until when (none: until turned off).

Revision ID: 0006_conversation_mutes
Revises: 0005_push_subscriptions
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_conversation_mutes"
down_revision = "0005_push_subscriptions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_mutes",
        sa.Column("identity", sa.String(length=256), nullable=False),
        sa.Column("conversation_sid", sa.String(length=34), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("identity", "conversation_sid"),
    )


def downgrade() -> None:
    op.drop_table("conversation_mutes")
