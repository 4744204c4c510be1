"""A per-user session version: logging out bumps it, so copies of old session cookies stop
working (sessions are signed cookies; without this, a stolen copy outlives the logout).

Revision ID: 0002_session_version
Revises: 0001_users
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_session_version"
down_revision = "0001_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_version")
