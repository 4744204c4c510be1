"""The per-user channels one process listens on, counted by the streams it holds.

A webhook for a 1:1 conversation wakes two users; the publish sends each one's wake-up on
that user's own channel (``parley:u:{identity}:ch``), so only the processes holding one of
their streams receive it, whatever the number of workers. This module keeps, on the
process's one pub/sub connection, a subscription to the channel of every user with a stream
here:

- the first stream of a user subscribes, and waits until Redis confirms it before its log is
  read (nothing published meanwhile can fall between the read and the subscription);
- the last stream leaving unsubscribes only after :data:`GRACE_SECONDS`, so a reload (or a
  reconnect to the same worker) does not churn;
- when the connection is lost, every channel is subscribed again on the next one, and each
  user's streams are told to catch up from their log once Redis has confirmed it.

Commands go out on the connection from whichever greenlet needs them (under one lock: one
writer at a time), while the listener alone reads it; the listener hands every
confirmation back here (:meth:`UserChannels.confirmed`, :meth:`UserChannels.unsubscribed`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

#: A user's channel stays subscribed this long after their last stream here closed.
GRACE_SECONDS = 10.0
#: Channels named in one SUBSCRIBE or UNSUBSCRIBE command (a resubscribe sends them all).
BATCH = 1000

#: Sends one command naming channels on the pub/sub connection; may raise (lost connection).
Send = Callable[[str, list[str]], None]


def user_channel(identity: str) -> str:
    """The channel of ``identity``'s wake-ups: in the same slot as its log (``{identity}``)."""
    return f"parley:u:{{{identity}}}:ch"


def channel_identity(channel: str) -> str | None:
    """The identity whose channel is ``channel``; None for any other channel."""
    if channel.startswith("parley:u:{") and channel.endswith("}:ch"):
        return channel[10:-4]
    return None


class _Route:
    """One channel: how many streams here need it and where its subscription stands."""

    __slots__ = ("refs", "ready", "subscribed", "leaving", "lost", "away")

    def __init__(self) -> None:
        self.refs = 0
        #: Set while Redis has confirmed the subscription on the current connection.
        self.ready = threading.Event()
        self.subscribed = False  # a SUBSCRIBE for it is sent, its UNSUBSCRIBE is not
        self.leaving = False  # an UNSUBSCRIBE is sent and not confirmed yet
        self.lost = False  # deliveries may have been missed: catch up once confirmed
        #: Its slot moved and no node is known to serve it yet: subscribed nowhere until
        #: :meth:`UserChannels.take` hands it to one (Redis Cluster).
        self.away = False


class UserChannels:
    """Reference-counted per-user subscriptions on one pub/sub connection (see module doc).

    ``catch_up(channel)`` is called (from the listener's thread; it must not block) when a
    channel is confirmed again after deliveries on it may have been lost.
    """

    def __init__(
        self,
        catch_up: Callable[[str], None],
        grace: float = GRACE_SECONDS,
        subscribe_command: str = "SUBSCRIBE",
        unsubscribe_command: str = "UNSUBSCRIBE",
        batch_of: Callable[[str], object] | None = None,
    ) -> None:
        """``batch_of``: channels one command may name together must share its value (on a
        cluster, the slot: an ``SSUBSCRIBE`` naming two slots is refused); None, any."""
        self._batch_of = batch_of
        self._catch_up = catch_up
        self._grace = grace
        self._subscribe = subscribe_command
        self._unsubscribe = unsubscribe_command
        self._lock = threading.Lock()
        self._routes: dict[str, _Route] = {}
        self._idle: dict[str, float] = {}  # channel -> when its last stream left, oldest first
        self._send: Send | None = None

    def __len__(self) -> int:
        """Channels subscribed or being subscribed now."""
        return len(self._routes)

    # Streams -------------------------------------------------------------------------------

    def acquire(self, channel: str) -> threading.Event:
        """One more stream here needs ``channel``; the returned event is set once its
        subscription is confirmed (at once if it already is)."""
        with self._lock:
            route = self._routes.get(channel)
            if route is None:
                route = self._routes[channel] = _Route()
            route.refs += 1
            self._idle.pop(channel, None)
            idle = not (route.subscribed or route.leaving or route.away)
            if self._send is not None and idle:
                route.subscribed = True  # else the next connection subscribes it
                self._command(self._subscribe, [channel])
            return route.ready

    def release(self, channel: str) -> bool:
        """One stream needing ``channel`` fewer; it is left after the grace period. False if
        no stream here needed it (on a cluster: its route moved to another node)."""
        with self._lock:
            route = self._routes.get(channel)
            if route is None or route.refs == 0:
                return False
            route.refs -= 1
            if route.refs > 0:
                return True
            if route.subscribed or route.leaving:
                self._idle[channel] = time.monotonic()
            else:  # never sent (no connection): nothing to take back
                del self._routes[channel]
            return True

    def sweep(self, now: float) -> None:
        """Unsubscribe the channels idle for longer than the grace period (the listener
        calls this every second or so)."""
        horizon = now - self._grace
        leaving: list[str] = []
        with self._lock:
            for channel, since in self._idle.items():
                if since > horizon:
                    break
                leaving.append(channel)
            for channel in leaving:
                del self._idle[channel]
                route = self._routes[channel]
                route.ready.clear()
                if route.subscribed:
                    route.subscribed = False
                    route.leaving = True
                else:  # never sent (no connection): nothing to take back
                    del self._routes[channel]
            leaving = [channel for channel in leaving if channel in self._routes]
            self._command(self._unsubscribe, leaving)

    # The connection ----------------------------------------------------------------------

    def attach(self, send: Send) -> None:
        """A new connection is up: subscribe every channel a stream here needs on it (their
        confirmations make the streams catch up); channels no stream needs are dropped."""
        with self._lock:
            self._send = send
            for channel in [c for c, r in self._routes.items() if r.refs == 0]:
                del self._routes[channel]
                self._idle.pop(channel, None)
            for route in self._routes.values():
                route.subscribed, route.leaving = not route.away, False
            self._command(self._subscribe, [c for c, r in self._routes.items() if r.subscribed])

    def detach(self) -> None:
        """The connection is gone: no channel is confirmed until the next one confirms it."""
        with self._lock:
            self._send = None
            for route in self._routes.values():
                if route.ready.is_set():
                    route.lost = True
                route.ready.clear()
                route.subscribed = route.leaving = False

    def confirmed(self, channel: str) -> None:
        """Redis confirmed a subscription to ``channel`` (from the listener)."""
        with self._lock:
            route = self._routes.get(channel)
            if route is None or not route.subscribed:
                return  # left again meanwhile: its UNSUBSCRIBE follows
            route.ready.set()
            lost, route.lost = route.lost, False
        if lost:
            self._catch_up(channel)

    def unsubscribed(self, channel: str) -> bool:
        """Redis confirmed leaving ``channel`` (from the listener): a stream that came back
        meanwhile gets it subscribed again. False if this process did not ask to leave it
        (on a cluster: its slot moved to another node, see :meth:`take`)."""
        with self._lock:
            route = self._routes.get(channel)
            if route is None:
                return True
            if not route.leaving:
                return False
            route.leaving = False
            if route.refs == 0:
                del self._routes[channel]
                self._idle.pop(channel, None)
                return True
            route.subscribed = True
            self._command(self._subscribe, [channel])
            return True

    # Channels moving between nodes (Redis Cluster) ----------------------------------------

    def take(self, channel: str | None = None) -> list[tuple[str, _Route]]:
        """Forget ``channel`` (every channel if None) here, for another node to serve: its
        slot moved, or this node is gone. Returns the routes streams still need; whoever
        :meth:`adopt` s one keeps its streams' count and wakes its waiters."""
        with self._lock:
            names = list(self._routes) if channel is None else [channel]
            taken: list[tuple[str, _Route]] = []
            for name in names:
                route = self._routes.pop(name, None)
                self._idle.pop(name, None)
                if route is None or route.refs == 0:
                    continue
                route.lost = route.lost or route.ready.is_set()
                route.ready.clear()
                route.subscribed = route.leaving = route.away = False
                taken.append((name, route))
            return taken

    def away(self, channel: str) -> None:
        """Redis no longer serves ``channel`` here (its slot moved) and which node does is not
        known yet: it is not confirmed, nor subscribed again here, until :meth:`take`."""
        with self._lock:
            route = self._routes.get(channel)
            if route is None:
                return
            route.lost = route.lost or route.ready.is_set()
            route.ready.clear()
            route.subscribed = route.leaving = False
            route.away = True

    def away_channels(self) -> list[str]:
        """The channels :meth:`away` from this node that streams here still need."""
        with self._lock:
            return [c for c, r in self._routes.items() if r.away]

    def in_batch(self, batch: object) -> list[str]:
        """The channels held here that one command could name with those of ``batch`` (on a
        cluster: the channels of one slot)."""
        with self._lock:
            return [c for c in self._routes if self._batch_of is None or self._batch_of(c) == batch]

    def adopt(self, channel: str, route: _Route) -> None:
        """Serve ``channel`` here, taken from another node with its streams (see :meth:`take`):
        subscribed now, its streams catch up once it is confirmed."""
        with self._lock:
            here = self._routes.get(channel)
            if here is not None:  # a stream opened here meanwhile: one route, both counts
                here.refs += route.refs
                here.lost = here.lost or route.lost
                self._idle.pop(channel, None)
                return  # a stream still waiting on the old route times out: it comes back
            self._routes[channel] = route
            if self._send is not None:
                route.subscribed = True
                self._command(self._subscribe, [channel])

    def _command(self, command: str, channels: list[str]) -> None:
        """Send ``command`` for ``channels`` (under the lock: one writer on the connection).
        A failure is left to the listener, which will find the connection broken and
        subscribe everything again on the next one."""
        if self._send is None or not channels:
            return
        groups: dict[object, list[str]] = {}
        for channel in channels:
            groups.setdefault(
                None if self._batch_of is None else self._batch_of(channel), []
            ).append(channel)
        try:
            for group in groups.values():
                for start in range(0, len(group), BATCH):
                    self._send(command, group[start : start + BATCH])
        except Exception as exc:  # the listener reconnects; nothing to do here
            log.info("pub/sub %s not sent (%s)", command, exc.__class__.__name__)

    def snapshot(self) -> Iterable[tuple[str, int, bool]]:
        """(channel, streams, confirmed) for each channel held: for tests and diagnostics."""
        with self._lock:
            return [(c, r.refs, r.ready.is_set()) for c, r in self._routes.items()]
