"""The events Parley pushes to browsers, and their one serialiser.

An :class:`Event` is what happened (``message_added`` and friends). A :class:`Delivery` is
that event as one user receives it: with that user's own ordered id, ``<epoch>-<seq>.<tag>``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, NamedTuple

#: Event names the stream carries.
MESSAGE_ADDED = "message_added"
MESSAGE_UPDATED = "message_updated"
MESSAGE_REMOVED = "message_removed"
CONVERSATION_ADDED = "conversation_added"
CONVERSATION_UPDATED = "conversation_updated"
CONVERSATION_REMOVED = "conversation_removed"
PARTICIPANT_ADDED = "participant_added"
PARTICIPANT_REMOVED = "participant_removed"
#: The user muted or unmuted a conversation (sent to the user's own streams only).
CONVERSATION_MUTED = "conversation_muted"
#: Signals: ephemeral, never logged, never replayed, framed without an ``id:`` (see Signal).
TYPING = "typing"
PRESENCE = "presence"
#: A participant's read horizon (Twilio's ``LastReadMessageIndex``) moved.
PARTICIPANT_READ = "participant_read"
#: A text or MMS to a phone (or WhatsApp) participant was sent, delivered or failed.
DELIVERY_UPDATED = "delivery_updated"


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


class EventId(NamedTuple):
    """A position in one user's event log: ``epoch`` names the log's life, ``seq`` counts,
    ``tag`` fingerprints the event at that position (see :func:`event_tag`).

    The tag is what makes an id name one event only: a Redis restored from an older snapshot
    (or a promoted replica) keeps the epoch but rewinds ``seq``, so the same ``<epoch>-<seq>``
    can come to name another event; its tag then differs. ``""`` for ``seq`` 0 (no event)
    and for ids from before tags existed.

    A named tuple, not a dataclass: one is made per recipient of every event, and a tuple is
    several times cheaper to build than a frozen dataclass.
    """

    epoch: str
    seq: int
    tag: str = ""

    def __str__(self) -> str:
        if self.tag:
            return f"{self.epoch}-{self.seq}.{self.tag}"
        return f"{self.epoch}-{self.seq}"

    @classmethod
    def parse(cls, text: str | None) -> EventId | None:
        """``<epoch>-<seq>.<tag>`` or ``<epoch>-<seq>``; ``None`` for anything else (never an
        exception)."""
        if not text or len(text) > 100:
            return None
        epoch, _, rest = text.strip().rpartition("-")
        seq, dot, tag = rest.partition(".")
        if not (_is_ascii_alnum(epoch) and seq.isascii() and seq.isdigit()):
            return None
        if dot and not _is_ascii_alnum(tag):
            return None
        return cls(epoch, int(seq), tag)


def _is_ascii_alnum(text: str) -> bool:
    return text.isascii() and text.isalnum()


#: The empty hash every tag starts from (BLAKE2b, 4 bytes).
_TAG_HASH = hashlib.blake2b(digest_size=4)


def event_tag(event_json: str, once: str | None = None) -> str:
    """The tag of every id one publish of ``event_json`` gets, for all its recipients.

    Made once per event (not per recipient) from what identifies it: its text and, for a
    webhook, its de-duplication key (two deliveries from Twilio that read the same still get
    different tags). The same event published again (a webhook Twilio retries after a
    failover lost its key) gets the same tag, so a page that already holds it can resume.
    32 bits: a rewound log passes for the old one with odds of one in four billion.
    """
    text = event_json if once is None else f"{event_json}\0{once}"
    digest = _TAG_HASH.copy()  # cheaper than building a hash with its parameters each time
    digest.update(text.encode())
    return digest.hexdigest()


def frame_body(event_json: str) -> str:
    """The SSE lines of an event after its ``id:`` line (``event:``, ``data:``, blank line).

    The same for every recipient of the event: made once per event per process.
    """
    event_type, data = Event.split_json(event_json)
    return f"event: {event_type}\ndata: {data}\n\n"


class Delivery:
    """One event as one user receives it: the user's own id, the event's shared text.

    ``body`` (the framed event without its ``id:`` line) is shared by every delivery of one
    event in this process, so framing costs one string join per recipient, not a parse.
    """

    __slots__ = ("id", "event_json", "_body", "_id_text")

    def __init__(
        self,
        id: EventId,  # noqa: A002 - the SSE field's name
        event_json: str,
        body: str | None = None,
        id_text: str | None = None,
    ) -> None:
        self.id = id
        self.event_json = event_json
        self._body = body
        self._id_text = id_text

    @property
    def body(self) -> str:
        if self._body is None:
            self._body = frame_body(self.event_json)
        return self._body

    def framed(self) -> str:
        """The complete SSE message: the per-user ``id:`` line, then the shared body."""
        id_text = self._id_text if self._id_text is not None else str(self.id)
        return f"id: {id_text}\n{self.body}"

    @property
    def event(self) -> Event:
        return Event.from_json(self.event_json)

    def framed_in(self, epoch: str) -> str:
        """:meth:`framed`, where a delivery named by its seq alone (a live event's wake-up)
        takes ``epoch``, the one its stream read with the log."""
        if self.id.epoch:
            return self.framed()
        if self._id_text is None:
            return f"id: {EventId(epoch, self.id.seq, self.id.tag)}\n{self.body}"
        return f"id: {epoch}-{self._id_text}\n{self.body}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Delivery):
            return NotImplemented
        return self.id == other.id and self.event_json == other.event_json

    def __hash__(self) -> int:
        return hash((self.id, self.event_json))

    def __repr__(self) -> str:
        return f"Delivery({self.id!s}, {self.event_json[:60]!r})"


class Signal:
    """An ephemeral event (typing, presence): no per-user id, no log, no replay.

    It is framed without an ``id:`` line, so it neither moves a stream's cursor nor looks like
    a gap to the page's seq check; a stream that misses one (reconnecting) simply misses it.
    """

    __slots__ = ("event_json", "body")

    def __init__(self, event_json: str, body: str | None = None) -> None:
        self.event_json = event_json
        self.body = body if body is not None else frame_body(event_json)

    def framed(self) -> str:
        return self.body

    @property
    def event(self) -> Event:
        return Event.from_json(self.event_json)

    def __repr__(self) -> str:
        return f"Signal({self.event_json[:60]!r})"
