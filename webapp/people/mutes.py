"""Conversations a user muted: no browser notification and no push from them, for an hour, a
day, or until turned off; the unread count still counts.

Kept per user (by Twilio identity) in Parley's database, so every browser and device of the
user agrees, and the webhook path can ask about all of a message's recipients in one query.
Twilio's own ``NotificationLevel`` (``muted``/``default`` on the User Conversation) is set
beside it by the API, for Twilio's SDK clients; it has no end time, so Parley's ``until`` is
the truth and an expired mute simply stops counting (no clean-up job needed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db
from webapp.models import ConversationMute

log = logging.getLogger(__name__)

#: What the page offers; ``None`` is "until I turn it off".
DURATIONS: dict[str, timedelta | None] = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "forever": None,
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes for ``DateTime(timezone=True)``; they were UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Mute:
    """One live mute: ``until`` is when it ends by itself, ``None`` when it never does."""

    until: datetime | None

    def to_json(self) -> dict[str, Any]:
        until = self.until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if self.until else None
        return {"until": until}


class Mutes:
    """Reads and changes mutes; the caller's request or app context provides the session."""

    def __init__(self, clock: Callable[[], datetime] = _utcnow) -> None:
        self._clock = clock
        self._app: Flask | None = None

    def bind(self, app: Flask) -> None:
        """The app whose database :meth:`forget_member` uses: the webhook's lean path runs
        outside Flask's request cycle."""
        self._app = app

    def until_for(self, duration: str) -> datetime | None:
        """When a mute of ``duration`` (a key of :data:`DURATIONS`) made now ends."""
        length = DURATIONS[duration]
        return None if length is None else self._clock() + length

    def mute(self, identity: str, conversation_sid: str, until: datetime | None) -> Mute:
        row = db.session.get(ConversationMute, (identity, conversation_sid))
        if row is None:
            row = ConversationMute(identity=identity, conversation_sid=conversation_sid)
            db.session.add(row)
        row.until = until
        row.created_at = self._clock()
        db.session.commit()
        return Mute(until)

    def unmute(self, identity: str, conversation_sid: str) -> None:
        db.session.execute(
            db.delete(ConversationMute).filter_by(
                identity=identity, conversation_sid=conversation_sid
            )
        )
        db.session.commit()

    def forget_member(self, identity: str, conversation_sid: str) -> None:
        """Drop the mute of someone who left or was removed, so that rejoining starts
        unmuted; callable with or without an app context (its own keeps the session apart)."""
        assert self._app is not None, "Mutes.bind(app) first"
        with self._app.app_context():
            try:
                self.unmute(identity, conversation_sid)
            except SQLAlchemyError as exc:  # a removal still reaches everyone; a stale mute
                db.session.rollback()  # only stays quiet until it is turned off
                log.warning("mute of %s in %s not dropped: %s", identity, conversation_sid, exc)

    def muted_until(self, identity: str, conversation_sid: str) -> Mute | None:
        """The live mute of this conversation by this user, or ``None`` (never muted, turned
        off, or over)."""
        row = db.session.get(ConversationMute, (identity, conversation_sid))
        return self._live(row.until) if row is not None else None

    def is_muted(self, identity: str, conversation_sid: str) -> bool:
        """The seam Web Push asks before pushing: ``should_push`` is ``not is_muted``."""
        return self.muted_until(identity, conversation_sid) is not None

    def muted_among(self, identities: Collection[str], conversation_sid: str) -> set[str]:
        """Which of a message's recipients muted its conversation: one query per message."""
        if not identities:
            return set()
        rows = db.session.execute(
            db.select(ConversationMute.identity, ConversationMute.until).where(
                ConversationMute.conversation_sid == conversation_sid,
                ConversationMute.identity.in_(list(identities)),
            )
        )
        return {identity for identity, until in rows if self._live(until) is not None}

    def of(self, identity: str) -> dict[str, Mute]:
        """Every live mute of a user, by conversation sid: the conversation list shows them."""
        rows = db.session.execute(
            db.select(ConversationMute.conversation_sid, ConversationMute.until).filter_by(
                identity=identity
            )
        )
        found = {sid: self._live(until) for sid, until in rows}
        return {sid: mute for sid, mute in found.items() if mute is not None}

    def clear_ended(self, identity: str) -> list[str]:
        """Delete the user's mutes that have run out; returns their conversation sids, whose
        Twilio ``NotificationLevel`` goes back to ``default`` (Twilio's has no end time)."""
        rows = db.session.execute(
            db.select(ConversationMute.conversation_sid, ConversationMute.until).filter_by(
                identity=identity
            )
        )
        ended = [sid for sid, until in rows if until is not None and self._live(until) is None]
        if ended:
            db.session.execute(
                db.delete(ConversationMute).where(
                    ConversationMute.identity == identity,
                    ConversationMute.conversation_sid.in_(ended),
                )
            )
            db.session.commit()
        return ended

    def _live(self, until: datetime | None) -> Mute | None:
        until = _aware(until)
        if until is not None and until <= self._clock():
            return None
        return Mute(until)
