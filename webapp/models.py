"""Parley's own tables. Conversations and messages live in Twilio, not here."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import DateTime, Integer, String
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
    #: Part of the id kept in the session cookie; bumped at logout to void every copy of it.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @classmethod
    def from_session_id(cls, session_id: str) -> User | None:
        """The user a session cookie names, if the cookie is still current."""
        user_id, _, version = session_id.partition(":")
        if not user_id.isdigit() or not version.isdigit():
            return None
        user = db.session.get(cls, int(user_id))
        return user if user is not None and user.session_version == int(version) else None

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
