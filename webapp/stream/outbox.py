"""What one stream has sent so far, and how its queued items become SSE text.

Shared by both ways a stream is written (the request's own loop, and the process's stream
writer once the connection is handed over), so the resume contract of ``docs/stream.md`` is
kept in one place: ids only ever move forward, a delivery the replay already sent is dropped,
an epoch change, a log that cannot be caught up from, or a log that went back (a failover, a
restore: a seq behind the stream's, or its own seq with another tag) is a ``resync``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from webapp.events.broker import Broker, CatchUp
from webapp.events.types import Delivery, EventId, Signal
from webapp.stream.sse import control

log = logging.getLogger(__name__)

#: A stream subscribes before it reads the log (a replay, a resync), so live events published
#: just before that read may still be queued: behind the stream's position, they are
#: duplicates. They are expected for this long at most after the read, and only until a live
#: event at or past that position arrives (live events come in order); any other live event
#: behind the stream's position means the log went back.
SEAM_SECONDS = 10.0


class Outbox:
    """One stream's position (``last``, the id of the last event it wrote or read)."""

    __slots__ = ("broker", "identity", "last", "seam_until")

    def __init__(self, broker: Broker, identity: str, last: EventId) -> None:
        """Made right after the stream read the log up to ``last``."""
        self.broker = broker
        self.identity = identity
        self.last = last
        self.seam_until = time.monotonic() + SEAM_SECONDS

    def caught_up(self, last: EventId) -> None:
        """The stream has replayed the log up to ``last``: duplicates may follow for a while."""
        self.last = last
        self.seam_until = time.monotonic() + SEAM_SECONDS

    def render(self, items: Iterable[Delivery | CatchUp | Signal]) -> tuple[str, int]:
        """The text to write for ``items`` and how many events it delivers.

        A :class:`CatchUp` reads the user's log (one Redis round trip, after pub/sub came
        back) and may raise ``BrokerUnavailable`` or ``ReplayBroken``: the stream then ends
        and the browser resumes."""
        out: list[str] = []
        delivered = 0
        last = self.last
        for item in items:
            if isinstance(item, Signal):  # no id: the cursor and the page's seq stay put
                out.append(item.framed())
                continue
            if isinstance(item, CatchUp):
                caught_up = self.broker.replay(self.identity, last)
                self.seam_until = time.monotonic() + SEAM_SECONDS
                if caught_up.resync:
                    log.info("stream of %s resyncs: its log lacks %s", self.identity, last)
                    last = caught_up.cursor
                    out.append(control("resync", {"cursor": str(last)}, last))
                    continue
                for delivery in caught_up.events:
                    if delivery.id.seq > last.seq:
                        out.append(delivery.framed())
                        delivered += 1
                        last = delivery.id
                continue
            event_id = item.id
            if not event_id.epoch:  # a live event named by its seq alone: the stream's epoch
                event_id = EventId(last.epoch, event_id.seq, event_id.tag)
            if event_id.epoch == last.epoch and event_id.seq > last.seq:
                out.append(item.framed_in(last.epoch))
                delivered += 1
                last = event_id
                self.seam_until = 0.0
            elif event_id == last:  # the event the stream is at, once more
                self.seam_until = 0.0
            elif not self._duplicate(event_id, last):
                # Another epoch (the log was lost), or a log that went back: a seq behind the
                # stream's, or the stream's own seq naming another event (another tag).
                log.info("stream of %s resyncs: %s came after %s", self.identity, event_id, last)
                last = event_id
                out.append(control("resync", {"cursor": str(last)}, last))
                self.seam_until = 0.0
        self.last = last
        return "".join(out), delivered

    def _duplicate(self, event_id: EventId, last: EventId) -> bool:
        """A live event behind ``last`` that the log read already covered (see SEAM_SECONDS)."""
        return (
            event_id.epoch == last.epoch
            and event_id.seq < last.seq
            and time.monotonic() < self.seam_until
        )
