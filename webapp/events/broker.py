"""The broker interface: publish an event to users, subscribe to a user's events, replay.

Two implementations: :mod:`.memory_broker` (one process, the default) and
:mod:`.redis_broker` (``REDIS_URL``; several workers and dynos). Both keep, per user, a bounded
log of recent deliveries with ids ``<epoch>-<seq>.<tag>`` (see ``docs/stream.md``): pub/sub
wakes streams up, the log lets a reconnecting browser catch up exactly.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from webapp.events.types import Delivery, Event, EventId, Signal

if TYPE_CHECKING:
    from webapp.events.errand import Errand
    from webapp.events.published_index import InOrder, PublishedIndex

#: A user's log keeps at least this many events, and at most about 100 more: Redis trims a
#: stream by whole nodes (``MAXLEN ~``), half the publish's cost in Redis for a large group
#: against trimming to the entry ...
LOG_MAX_EVENTS = 1000
#: ... and nothing older than this (seconds).
LOG_MAX_AGE = 24 * 3600
#: A stream further behind than this is cut off; it comes back through replay.
SUBSCRIPTION_QUEUE_SIZE = 1000
#: How long a ``publish(..., once=key)`` key is remembered by default: Twilio's retries of a
#: webhook come within minutes, and each key costs Redis memory (``PARLEY_WEBHOOK_DEDUPE_SECONDS``).
ONCE_SECONDS = 3600


class BrokerUnavailable(RuntimeError):
    """The broker cannot take the event now (Redis down): the webhook answers 503."""


class BrokerBusy(BrokerUnavailable):
    """Redis is up but every pooled connection stayed busy for the pool's whole timeout."""


class CatchUp:
    """Put in a subscription's queue when live events may have been missed (broker reconnect)."""


CATCH_UP = CatchUp()


class Backlog:
    """Whether a listener of this process holds pub/sub messages it has received but not yet
    dispatched to its streams.

    The stream writer waits for them (briefly: ``webapp.stream.writer.HOLD_SECONDS``) before
    it writes: under load, a stream owed several events then gets them in one ``send``, and
    its browser reads them at once, where writing each event as soon as it is dispatched costs
    a system call on each side per event (the cost that bounds a broadcast,
    ``docs/benchmarks.md``). A quiet stream's event is written as soon as its own message is
    dispatched: nothing waits for messages not yet received."""

    __slots__ = ("_busy", "_watchers")

    def __init__(self) -> None:
        self._busy: set[object] = set()
        self._watchers: list[Callable[[], None]] = []

    @property
    def pending(self) -> bool:
        """True while some listener holds received messages it has not dispatched yet."""
        return bool(self._busy)

    def busy(self, listener: object) -> None:
        """``listener`` has received a message and is dispatching it."""
        self._busy.add(listener)

    def idle(self, listener: object) -> None:
        """``listener`` has dispatched everything it received. The watchers hear of it only
        when this leaves no listener busy (a listener reports idle on every quiet loop)."""
        if listener not in self._busy:
            return
        self._busy.discard(listener)
        if not self._busy:
            for watcher in self._watchers:
                watcher()

    def on_idle(self, watcher: Callable[[], None]) -> None:
        """Call ``watcher()`` (it must not block) each time no listener is left busy: the
        waiter wakes with the primitive of its own loop (the writer's is gevent's)."""
        self._watchers.append(watcher)


class Subscription:
    """One open stream's inbox: a bounded queue the broker fills and the stream drains.

    A ``deque`` plus one ``threading.Event`` (gevent's own Event once monkey-patched): far
    lighter per stream than ``queue.Queue`` (three Conditions, a waiter lock per timed get).
    The broker only appends and the stream only pops, so no lock is needed around the deque.
    """

    __slots__ = (
        "identity",
        "_items",
        "_ready",
        "_maxsize",
        "_beat",
        "overflowed",
        "closed",
        "signals",
        "on_ready",
        "expires",
    )

    def __init__(self, identity: str, maxsize: int = SUBSCRIPTION_QUEUE_SIZE) -> None:
        self.identity = identity
        self._items: deque[Delivery | CatchUp | Signal] = deque()
        self._ready = threading.Event()
        self._maxsize = maxsize
        self._beat = False
        self.overflowed = False
        self.closed = False
        #: Whether this stream asked for signals (typing, presence); brokers skip it if not.
        self.signals = False
        #: Called instead of waking a waiting reader once the stream's connection belongs to
        #: the process's stream writer (``webapp.stream.writer``), which has no greenlet per
        #: stream to wake: it is told which inboxes have something to write.
        self.on_ready: Callable[[Subscription], None] | None = None
        #: ``time.monotonic()`` when the session that opened the stream expires: the
        #: heartbeat ticker ends the stream then instead of beating it.
        self.expires = math.inf

    def offer(self, item: Delivery | CatchUp | Signal) -> None:
        """Called by the broker; never blocks. A full queue ends the stream (it will replay)."""
        if self.closed:
            return
        if len(self._items) >= self._maxsize:
            self.overflowed = True
            self.close()
            return
        self._items.append(item)
        self._wake()

    def _wake(self) -> None:
        if self.on_ready is None:
            self._ready.set()
        else:
            self.on_ready(self)

    def beat(self) -> None:
        """Wake the stream for a heartbeat (from the process's one ticker): an idle stream then
        waits with no timer of its own (no gevent ``Timeout`` made and cancelled per wait)."""
        self._beat = True
        self._wake()

    def close(self) -> None:
        """End the stream reading this subscription, waking it if it is waiting."""
        if not self.closed:
            self.closed = True
            self._wake()

    def _wait(self, timeout: float | None) -> bool:
        """True once an item is queued; False after ``timeout`` seconds (``None``: no limit),
        on a heartbeat (:meth:`beat`) or when closed."""
        while not self.closed:
            if self._items:
                self._beat = False  # what is written now keeps the connection alive
                return True
            if self._beat:
                self._beat = False
                return False
            self._ready.clear()
            if self._items or self.closed or self._beat:  # set between the check and the clear
                continue
            if not self._ready.wait(timeout):
                return bool(self._items) and not self.closed
        return False

    def get(self, timeout: float | None) -> Delivery | CatchUp | Signal | None:
        """The next item, or ``None`` after ``timeout`` seconds, on a heartbeat or when closed."""
        if not self._wait(timeout):
            return None
        return self._items.popleft()

    def get_all(self, timeout: float | None) -> list[Delivery | CatchUp | Signal]:
        """Everything queued, waiting up to ``timeout`` seconds for the first item; ``[]``
        after the timeout, on a heartbeat or when closed. The stream writes the lot at once."""
        if not self._wait(timeout):
            return []
        return self.take_all()[0]

    def take_all(self) -> tuple[list[Delivery | CatchUp | Signal], bool]:
        """Everything queued now, without waiting, and whether a heartbeat is due (spent here:
        whatever is written next keeps the connection alive)."""
        take = self._items.popleft  # as many as are queued now: only this side pops
        items = [take() for _ in range(len(self._items))]
        beat, self._beat = self._beat, False
        return items, beat


@dataclass(frozen=True)
class Replay:
    """What a reconnecting stream gets: either ``events`` after its cursor, or a resync."""

    resync: bool
    cursor: EventId
    events: Iterator[Delivery]


def resumable(after: EventId, current: EventId, found: EventId | None) -> bool:
    """Whether a stream that has seen everything up to ``after`` can be caught up from a log
    whose newest id is ``current``, ``found`` being the log's oldest id (within its age limit)
    from ``after``'s seq on (seq 1 on for ``after.seq`` 0), if any.

    Only if the log still holds the very event ``after`` names: same seq *and* same tag. A
    log restored from an older snapshot keeps its epoch but rewinds: ``after`` is then ahead
    of it, or its seq names another event (another tag). An id without a tag (issued before
    tags existed) matches only an entry without one, written by the code that issued it.
    """
    if after.epoch != current.epoch or after.seq > current.seq:
        return False
    if after.seq == current.seq:
        return after.tag == current.tag
    if found is None:
        return False
    if after.seq == 0:
        return found.seq == 1  # nothing seen yet: resumable if nothing was trimmed
    return found.seq == after.seq and found.tag == after.tag


class Broker(Protocol):
    """What the webhook and the stream need from a broker."""

    @property
    def marks(self) -> PublishedIndex:
        """The marks of what was published per conversation, beside the de-duplication keys."""

    @property
    def backlog(self) -> Backlog:
        """Whether this process's listeners hold messages not yet dispatched (the writer's
        cue to wait for them)."""

    def publish(
        self,
        event: Event,
        recipients: Collection[str],
        once: str | None = None,
        in_order: InOrder | None = None,
    ) -> bool:
        """Log ``event`` for each recipient and wake their streams. May raise BrokerUnavailable.

        With ``once`` (a webhook's de-duplication key), the event is published only if that key
        was not seen in the last :data:`ONCE_SECONDS`, atomically with the publish (so a failed
        publish leaves nothing to release). False when it was a duplicate.

        With ``in_order`` (a new message: ``once`` is then the key its publish confirms), the
        conversation's mark is noted first, in the same step, and a strict one raises
        :class:`~webapp.events.published_index.OutOfOrder`, publishing nothing, while a message
        before it is missing."""

    def signal(self, event: Event, recipients: Collection[str]) -> None:
        """Send an ephemeral ``event`` (typing, presence) to the recipients' open streams, in
        every process: no log, no id, no replay. May raise BrokerUnavailable."""

    def claim(self, key: str, seconds: float) -> bool:
        """Take ``key`` for ``seconds`` unless someone (any process) holds it: a shared rate
        limit, such as one typing signal per user and conversation. May raise
        BrokerUnavailable."""

    def release(self, key: str) -> None:
        """Give ``key`` back before it expires. May raise BrokerUnavailable."""

    def subscribe(self, identity: str) -> Subscription:
        """Start receiving ``identity``'s live events (before reading the log: no gap)."""

    def unsubscribe(self, subscription: Subscription) -> None: ...

    def cursor(self, identity: str) -> EventId:
        """The id of the newest event in ``identity``'s log (``seq`` 0 when empty)."""

    def replay(self, identity: str, after: EventId | None, errand: Errand | None = None) -> Replay:
        """Everything after ``after``, or a resync when that cannot be served whole.

        ``errand`` (a stream opening's presence) is sent with the log's read, in the same round
        trip where the broker can, else on its own; its reply goes to ``errand.done``."""

    def close_user_streams(self, identity: str) -> None:
        """End every open stream of ``identity`` (logout), in every process."""

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (it must not block) each time the broker is back after a loss
        during which publishes may have failed (webhooks answered 503 meanwhile)."""

    def close(self) -> None: ...


class SubscriptionRegistry:
    """Open subscriptions of this process, by identity; shared by both brokers.

    Read on every delivery, written only when a stream opens or closes: each identity maps to
    an immutable ``frozenset`` that writers replace (under the lock) and readers take without
    locking (one dict lookup, no copy).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_identity: dict[str, frozenset[Subscription]] = {}
        self._count = 0

    def add(self, subscription: Subscription) -> None:
        with self._lock:
            subs = self._by_identity.get(subscription.identity, frozenset())
            if subscription not in subs:
                self._by_identity[subscription.identity] = subs | {subscription}
                self._count += 1

    def remove(self, subscription: Subscription) -> bool:
        """Forget ``subscription``; False if it was not here (removed already)."""
        with self._lock:
            subs = self._by_identity.get(subscription.identity)
            if subs is None or subscription not in subs:
                return False
            self._count -= 1
            if len(subs) == 1:
                del self._by_identity[subscription.identity]
            else:
                self._by_identity[subscription.identity] = subs - {subscription}
            return True

    def of(self, identity: str) -> frozenset[Subscription]:
        """``identity``'s open subscriptions (an immutable snapshot; no lock, no copy)."""
        return self._by_identity.get(identity, _NONE)

    def identities(self) -> list[str]:
        """Identities with an open subscription here (a snapshot)."""
        with self._lock:
            return list(self._by_identity)

    def all(self) -> list[Subscription]:
        with self._lock:
            return [sub for subs in self._by_identity.values() for sub in subs]

    def __len__(self) -> int:
        return self._count


_NONE: frozenset[Subscription] = frozenset()
