"""The events Parley pushes to browsers, and their one serialiser.

An :class:`Event` is what happened (``message_added`` and friends). A :class:`Delivery` is
that event as one user receives it: with that user's own ordered id, ``<epoch>-<seq>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: Event names the stream carries.
MESSAGE_ADDED = "message_added"
MESSAGE_UPDATED = "message_updated"
MESSAGE_REMOVED = "message_removed"
CONVERSATION_ADDED = "conversation_added"
CONVERSATION_UPDATED = "conversation_updated"
CONVERSATION_REMOVED = "conversation_removed"
PARTICIPANT_ADDED = "participant_added"
PARTICIPANT_REMOVED = "participant_removed"


@dataclass(frozen=True)
class Event:
    """Something that happened in a conversation, ready to send to its participants."""

    type: str
    data: dict[str, Any]

    def to_json(self) -> str:
        """Serialise once; every recipient's delivery shares this text."""
        return json.dumps({"type": self.type, "data": self.data}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Event:
        raw = json.loads(text)
        return cls(type=raw["type"], data=raw["data"])

    @staticmethod
    def split_json(text: str) -> tuple[str, str]:
        """``(type, data as JSON text)`` from :meth:`to_json`'s output, without parsing data.

        The stream frames every delivery; slicing keeps that cheap for large fan-outs.
        """
        head, _, rest = text.partition(',"data":')
        return json.loads(head[len('{"type":') :]), rest[:-1]


@dataclass(frozen=True)
class EventId:
    """A position in one user's event log: ``epoch`` names the log's life, ``seq`` counts."""

    epoch: str
    seq: int

    def __str__(self) -> str:
        return f"{self.epoch}-{self.seq}"

    @classmethod
    def parse(cls, text: str | None) -> EventId | None:
        """``None`` for anything that is not a well-formed id (never an exception)."""
        if not text or len(text) > 100:
            return None
        epoch, _, seq = text.strip().rpartition("-")
        if not epoch or not seq.isdigit() or not epoch.isalnum():
            return None
        return cls(epoch, int(seq))


@dataclass(frozen=True)
class Delivery:
    """One event as one user receives it."""

    id: EventId
    event_json: str

    @property
    def event(self) -> Event:
        return Event.from_json(self.event_json)
