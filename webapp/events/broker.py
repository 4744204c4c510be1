"""The broker interface: publish an event to users, subscribe to a user's events, replay.

Two implementations: :mod:`.memory_broker` (one process, the default) and
:mod:`.redis_broker` (``REDIS_URL``; several workers and dynos). Both keep, per user, a bounded
log of recent deliveries with ids ``<epoch>-<seq>`` (see ``docs/stream.md``): pub/sub wakes
streams up, the log lets a reconnecting browser catch up exactly.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Protocol

from webapp.events.types import Delivery, Event, EventId

#: A user's log keeps at most this many events ...
LOG_MAX_EVENTS = 1000
#: ... and nothing older than this (seconds).
LOG_MAX_AGE = 24 * 3600
#: A stream further behind than this is cut off; it comes back through replay.
SUBSCRIPTION_QUEUE_SIZE = 1000


class BrokerUnavailable(RuntimeError):
    """The broker cannot take the event now (Redis down): the webhook answers 503."""


class CatchUp:
    """Put in a subscription's queue when live events may have been missed (broker reconnect)."""


class _Wake:
    """Put in a subscription's queue to wake its stream up, e.g. to end it."""


CATCH_UP = CatchUp()
_WAKE = _Wake()


class Subscription:
    """One open stream's inbox: a bounded queue the broker fills and the stream drains."""

    def __init__(self, identity: str, maxsize: int = SUBSCRIPTION_QUEUE_SIZE) -> None:
        self.identity = identity
        self._queue: queue.Queue[Delivery | CatchUp | _Wake] = queue.Queue(maxsize + 1)
        self._maxsize = maxsize
        self.overflowed = False
        self.closed = False

    def offer(self, item: Delivery | CatchUp) -> None:
        """Called by the broker; never blocks. A full queue ends the stream (it will replay)."""
        if self.closed:
            return
        if self._queue.qsize() >= self._maxsize:
            self.overflowed = True
            self.close()
            return
        self._queue.put_nowait(item)

    def close(self) -> None:
        """End the stream reading this subscription, waking it if it is waiting."""
        if not self.closed:
            self.closed = True
            try:
                self._queue.put_nowait(_WAKE)
            except queue.Full:
                pass

    def get(self, timeout: float) -> Delivery | CatchUp | None:
        """The next item, or ``None`` after ``timeout`` seconds or when closed."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        return None if isinstance(item, _Wake) else item


@dataclass(frozen=True)
class Replay:
    """What a reconnecting stream gets: either ``events`` after its cursor, or a resync."""

    resync: bool
    cursor: EventId
    events: Iterator[Delivery]


class Broker(Protocol):
    """What the webhook and the stream need from a broker."""

    def publish(self, event: Event, recipients: Collection[str]) -> None:
        """Log ``event`` for each recipient and wake their streams. May raise BrokerUnavailable."""

    def subscribe(self, identity: str) -> Subscription:
        """Start receiving ``identity``'s live events (before reading the log: no gap)."""

    def unsubscribe(self, subscription: Subscription) -> None: ...

    def cursor(self, identity: str) -> EventId:
        """The id of the newest event in ``identity``'s log (``seq`` 0 when empty)."""

    def replay(self, identity: str, after: EventId | None) -> Replay:
        """Everything after ``after``, or a resync when that cannot be served whole."""

    def close_user_streams(self, identity: str) -> None:
        """End every open stream of ``identity`` (logout), in every process."""

    def close(self) -> None: ...


class SubscriptionRegistry:
    """Open subscriptions of this process, by identity; shared by both brokers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_identity: dict[str, set[Subscription]] = {}

    def add(self, subscription: Subscription) -> None:
        with self._lock:
            self._by_identity.setdefault(subscription.identity, set()).add(subscription)

    def remove(self, subscription: Subscription) -> None:
        with self._lock:
            subs = self._by_identity.get(subscription.identity)
            if subs is not None:
                subs.discard(subscription)
                if not subs:
                    del self._by_identity[subscription.identity]

    def of(self, identity: str) -> list[Subscription]:
        with self._lock:
            return list(self._by_identity.get(identity, ()))

    def all(self) -> list[Subscription]:
        with self._lock:
            return [sub for subs in self._by_identity.values() for sub in subs]

    def __len__(self) -> int:
        with self._lock:
            return sum(len(subs) for subs in self._by_identity.values())
