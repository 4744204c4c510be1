"""The in-process broker: the default for one process (``make run``, one gunicorn worker).

It keeps the same per-user logs and ids as the Redis broker, so replay and resync behave the
same; its logs die with the process, and a new process starts new epochs.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator

from webapp.events.broker import (
    LOG_MAX_AGE,
    LOG_MAX_EVENTS,
    ONCE_SECONDS,
    Backlog,
    Replay,
    Subscription,
    SubscriptionRegistry,
    resumable,
)
from webapp.events.errand import Errand
from webapp.events.published_index import InOrder, MemoryPublishedIndex, OutOfOrder
from webapp.events.types import Delivery, Event, EventId, Signal, event_tag, frame_body

#: Live claims one process keeps at most (``claim``).
MAX_CLAIMS = 100_000


class _UserLog:
    def __init__(self, max_events: int) -> None:
        self.epoch = secrets.token_hex(4)
        self.seq = 0
        self.tag = ""
        self.entries: deque[tuple[float, Delivery]] = deque(maxlen=max_events)


class MemoryBroker:
    """Broker for a single process; refuses nothing, loses everything on restart."""

    def __init__(
        self,
        max_age: float = LOG_MAX_AGE,
        max_events: int = LOG_MAX_EVENTS,
        once_seconds: float = ONCE_SECONDS,
    ) -> None:
        self._lock = threading.Lock()
        self._logs: dict[str, _UserLog] = {}
        self._max_age = max_age
        self._max_events = max_events
        self._once_seconds = once_seconds
        self._once: dict[str, float] = {}
        self._claims: dict[str, float] = {}
        self.subscriptions = SubscriptionRegistry()
        #: Never busy: a publish offers its deliveries as it is made, with no listener between.
        self.backlog = Backlog()
        #: The marks of what was published per conversation (a publish ``in_order`` notes).
        self.marks = MemoryPublishedIndex(self.published, window=max_age)

    def _log(self, identity: str) -> _UserLog:
        log = self._logs.get(identity)
        if log is None:
            log = self._logs[identity] = _UserLog(self._max_events)
        return log

    def publish(
        self,
        event: Event,
        recipients: Collection[str],
        once: str | None = None,
        in_order: InOrder | None = None,
    ) -> bool:
        if in_order is not None:
            mark = self.marks.note(in_order.conversation_sid, in_order.message_index, once, True)
            if in_order.strict and in_order.message_index > mark.heard + 1:
                raise OutOfOrder(mark)
        text = event.to_json()
        body = frame_body(text)
        tag = event_tag(text, once)
        now = time.monotonic()
        with self._lock:
            if once is not None:
                if self._once.get(once, 0.0) > now:
                    return False
                if len(self._once) > 100_000:
                    self._once = {k: t for k, t in self._once.items() if t > now}
                self._once[once] = now + self._once_seconds
            deliveries = []
            for identity in set(recipients):
                log = self._log(identity)
                log.seq += 1
                log.tag = tag
                delivery = Delivery(EventId(log.epoch, log.seq, tag), text, body)
                log.entries.append((now, delivery))
                deliveries.append((identity, delivery))
            # Offer inside the lock so every stream sees a user's events in seq order.
            for identity, delivery in deliveries:
                for sub in self.subscriptions.of(identity):
                    sub.offer(delivery)
        if in_order is not None:  # the mark moves over this message now
            self.marks.note(in_order.conversation_sid, in_order.message_index + 1, None, False)
        return True

    def published(self, once: str) -> bool:
        """Whether an event was published with this ``once`` key (and it is still remembered)."""
        with self._lock:
            return self._once.get(once, 0.0) > time.monotonic()

    def claim(self, key: str, seconds: float) -> bool:
        """As Redis's ``SET NX``, in a bounded table: when it is full of live claims, new ones
        are refused (a typing signal dropped, a sign-in token turned away) rather than memory
        growing without limit."""
        now = time.monotonic()
        with self._lock:
            if self._claims.get(key, 0.0) > now:
                return False
            if len(self._claims) >= MAX_CLAIMS:
                self._claims = {k: t for k, t in self._claims.items() if t > now}
                if len(self._claims) >= MAX_CLAIMS:
                    return False
            self._claims[key] = now + seconds
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._claims.pop(key, None)

    def signal(self, event: Event, recipients: Collection[str]) -> None:
        signal = Signal(event.to_json())
        for identity in set(recipients):
            for sub in self.subscriptions.of(identity):
                if sub.signals:
                    sub.offer(signal)

    def subscribe(self, identity: str) -> Subscription:
        sub = Subscription(identity)
        self.subscriptions.add(sub)
        return sub

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscriptions.remove(subscription)

    def cursor(self, identity: str) -> EventId:
        with self._lock:
            log = self._log(identity)
            return EventId(log.epoch, log.seq, log.tag)

    def replay(self, identity: str, after: EventId | None, errand: Errand | None = None) -> Replay:
        if errand is not None:
            errand.run()  # no Redis here to share a round trip with
        with self._lock:
            log = self._log(identity)
            current = EventId(log.epoch, log.seq, log.tag)
            horizon = time.monotonic() - self._max_age
            kept = [d for t, d in log.entries if t >= horizon]
        first = max(after.seq, 1) if after is not None else 0
        found = next((d.id for d in kept if d.id.seq >= first), None)
        if after is None or not resumable(after, current, found):
            return Replay(resync=True, cursor=current, events=iter(()))
        missed: Iterator[Delivery] = (d for d in kept if d.id.seq > after.seq)
        return Replay(resync=False, cursor=current, events=missed)

    def close_user_streams(self, identity: str) -> None:
        for sub in self.subscriptions.of(identity):
            sub.close()

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        """Never called back: this process's broker cannot be lost while the process lives."""

    def close(self) -> None:
        for sub in self.subscriptions.all():
            sub.close()
