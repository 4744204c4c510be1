"""Parley's own tables. Conversations and messages live in Twilio, not here."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db

#: A username is also the user's Twilio chat identity, so keep it simple and URL-safe.
USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{1,31}")


class User(UserMixin, db.Model):  # type: ignore[name-defined]
    """A person who can log in; ``username`` is their Twilio Conversations identity."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def identity(self) -> str:
        """The Twilio chat identity of this user."""
        return self.username

    @classmethod
    def by_username(cls, username: str) -> User | None:
        return db.session.execute(
            db.select(cls).filter_by(username=username.strip().lower())
        ).scalar_one_or_none()
