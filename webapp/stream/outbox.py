"""What one stream has sent so far, and how its queued items become SSE text.

Shared by both ways a stream is written (the request's own loop, and the process's stream
writer once the connection is handed over), so the resume contract of ``docs/stream.md`` is
kept in one place: ids only ever move forward, a delivery the replay already sent is dropped,
an epoch change or a log that cannot be caught up from is a ``resync``.
"""

from __future__ import annotations

from collections.abc import Iterable

from webapp.events.broker import Broker, CatchUp
from webapp.events.types import Delivery, EventId, Signal
from webapp.stream.sse import control


class Outbox:
    """One stream's position (``last``, the id of the last event it wrote)."""

    __slots__ = ("broker", "identity", "last")

    def __init__(self, broker: Broker, identity: str, last: EventId) -> None:
        self.broker = broker
        self.identity = identity
        self.last = last

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
            elif isinstance(item, CatchUp):
                caught_up = self.broker.replay(self.identity, last)
                if caught_up.resync:
                    last = caught_up.cursor
                    out.append(control("resync", {"cursor": str(last)}, last))
                    continue
                for delivery in caught_up.events:
                    if delivery.id.seq > last.seq:
                        out.append(delivery.framed())
                        delivered += 1
                        last = delivery.id
            elif item.id.epoch != last.epoch:
                # The user's log was lost and restarted: the page must reload over REST.
                last = item.id
                out.append(control("resync", {"cursor": str(last)}, last))
            elif item.id.seq > last.seq:
                out.append(item.framed())
                delivered += 1
                last = item.id
        self.last = last
        return "".join(out), delivered
