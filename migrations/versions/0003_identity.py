"""A user's Twilio identity apart from their username, and a display name: a host site signs
its users in with its own ids (``42``, ``user|42``) as identities, and they have no username.
Existing users keep their username as their identity.

Revision ID: 0003_identity
Revises: 0002_session_version
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_identity"
down_revision = "0002_session_version"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("identity", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("display_name", sa.String(length=256), nullable=True))
    op.execute("UPDATE users SET identity = username")
    with op.batch_alter_table("users") as batch:
        batch.alter_column("identity", existing_type=sa.String(length=256), nullable=False)
        batch.alter_column("username", existing_type=sa.String(length=32), nullable=True)
        batch.create_index("ix_users_identity", ["identity"], unique=True)


def downgrade() -> None:
    # Users without a username (signed in by a host site) cannot exist in the older schema.
    op.execute("DELETE FROM users WHERE username IS NULL")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_identity")
        batch.alter_column("username", existing_type=sa.String(length=32), nullable=False)
        batch.drop_column("display_name")
        batch.drop_column("identity")
