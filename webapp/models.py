"""Parley's own tables. Conversations and messages live in Twilio, not here."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db

#: Password accounts choose a username, which is also their Twilio identity: kept simple and
#: URL-safe. Identities handed over by a host site (``webapp/sso``) are far freer.
USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{1,31}")

#: Twilio refuses a participant identity longer than this (error 50207).
IDENTITY_MAX_CHARS = 256
#: Display names are shown, never used as keys; Twilio's ``friendly_name`` takes 256 too.
DISPLAY_NAME_MAX_CHARS = 256
#: Push services' endpoints are URLs of a few hundred characters; this leaves room.
PUSH_ENDPOINT_MAX_CHARS = 1024
#: Twilio refuses an identity shaped like a User SID (error 50206).
_USER_SID = re.compile(r"US[0-9a-fA-F]{32}")


def is_valid_identity(value: str) -> bool:
    """Any string Twilio accepts as an identity, minus what would break Parley's own framing:
    no control characters (the broker separates identities by newlines), no blank edges (an
    identity that looks like another one when displayed)."""
    return (
        0 < len(value) <= IDENTITY_MAX_CHARS
        and value == value.strip()
        and not _USER_SID.fullmatch(value)
        and not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value)
    )


def parse_session_id(session_id: str) -> tuple[int, int] | None:
    """``(user id, session version)`` from the id a session cookie keeps (``User.get_id``),
    or None for anything no user can have."""
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    return int(user_id), int(version)


class User(UserMixin, db.Model):  # type: ignore[name-defined]
    """A person who can log in. ``identity`` is their Twilio Conversations identity: the
    username of a password account, or the host site's user id for one signed in by the host
    (those have no username and no password)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str | None] = mapped_column(String(32), unique=True, index=True)
    identity: Mapped[str] = mapped_column(String(IDENTITY_MAX_CHARS), unique=True, index=True)
    display_name: Mapped[str | None] = mapped_column(String(DISPLAY_NAME_MAX_CHARS))
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )
    #: Part of the id kept in the session cookie; bumped at logout to void every copy of it.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    @classmethod
    def password_account(cls, username: str) -> User:
        """A new account of Parley's own: its username is its Twilio identity."""
        return cls(username=username, identity=username)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @classmethod
    def from_session_id(cls, session_id: str) -> User | None:
        """The user a session cookie names, if the cookie is still current."""
        key = parse_session_id(session_id)
        if key is None:
            return None
        user = db.session.get(cls, key[0])
        return user if user is not None and user.session_version == key[1] else None

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return self.has_password and check_password_hash(self.password_hash, password)

    @property
    def has_password(self) -> bool:
        """False for accounts the host site signs in: nobody can log in to them with a form."""
        return bool(self.password_hash)

    @property
    def name(self) -> str:
        """What the page calls this person: the display name, else the identity."""
        return self.display_name or self.identity

    def end_sessions(self) -> None:
        """Void every copy of this user's session cookie (all devices); the caller commits."""
        self.session_version += 1

    # Both lookups answer None for what no user can have, before asking the database:
    # PostgreSQL refuses a NUL in a query parameter with an error, which would be a 500.
    @classmethod
    def by_username(cls, username: str) -> User | None:
        name = username.strip().lower()
        if not is_valid_identity(name):
            return None
        return db.session.execute(db.select(cls).filter_by(username=name)).scalar_one_or_none()

    @classmethod
    def by_identity(cls, identity: str) -> User | None:
        if not is_valid_identity(identity):
            return None
        return db.session.execute(db.select(cls).filter_by(identity=identity)).scalar_one_or_none()


class MediaUpload(db.Model):  # type: ignore[name-defined]
    """Who uploaded a file, for which conversation, until a message of theirs takes it.

    MCS records every upload as made by ``system`` (Parley's credentials), so only Parley can
    tell that a ``media_sids`` entry is the sender's own file meant for this conversation; the
    row is deleted once the message is sent, so a file is never sent twice.
    """

    __tablename__ = "media_uploads"

    sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    conversation_sid: Mapped[str] = mapped_column(String(34))
    identity: Mapped[str] = mapped_column(String(IDENTITY_MAX_CHARS))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )


class PushSubscription(db.Model):  # type: ignore[name-defined]
    """One browser's Web Push subscription for a user (``webapp/push``): where its push
    service takes messages and the keys they are encrypted for. The endpoint is unique: a
    browser that subscribes again for another user moves its subscription to them."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    endpoint: Mapped[str] = mapped_column(String(PUSH_ENDPOINT_MAX_CHARS), unique=True)
    #: The browser's P-256 public key and auth secret (base64url), per RFC 8291.
    p256dh: Mapped[str] = mapped_column(String(128))
    auth: Mapped[str] = mapped_column(String(64))
    #: False: notifications say "New message", never the text (the user's choice).
    previews: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )


class ConversationMute(db.Model):  # type: ignore[name-defined]
    """A user's mute of one conversation: no notifications or pushes from it until ``until``
    (``None``: until they turn it off). Kept by Parley because Twilio's ``NotificationLevel``
    has no end time and reaches only its own SDKs' pushes (see ``webapp/people/mutes.py``)."""

    __tablename__ = "conversation_mutes"

    identity: Mapped[str] = mapped_column(String(IDENTITY_MAX_CHARS), primary_key=True)
    conversation_sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )
