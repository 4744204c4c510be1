"""The server's limit on typing signals: one per user and conversation every 2 s.

A typing burst ends when the user sends the message: the next burst may start at once (the
page resets its own rhythm then, too), or a quick reply's "typing…" would be dropped. In each
process a dictionary answers first (no round trip); then the broker's shared claim (a
``SET NX PX`` key with Redis) makes the limit hold across every worker and dyno.
"""

from __future__ import annotations

import threading
import time

from webapp.errors import ApiError
from webapp.events.broker import BrokerUnavailable
from webapp.services import Services

#: At most one typing signal per user and conversation this often (seconds); the page sends
#: one every 2.5 s while its user types, and shows the indicator for 5 s after each.
TYPING_MIN_INTERVAL = 2.0


class TypingThrottle:
    """Per process: when each (user, conversation) last had a typing signal sent."""

    def __init__(self, interval: float = TYPING_MIN_INTERVAL, max_entries: int = 10_000) -> None:
        self._interval = interval
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], float] = {}

    def allow(self, identity: str, sid: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get((identity, sid), -self._interval) < self._interval:
                return False
            if len(self._last) >= self._max_entries:
                self._last = {k: t for k, t in self._last.items() if now - t < self._interval}
            self._last[(identity, sid)] = now
            return True

    def forget(self, identity: str, sid: str) -> None:
        with self._lock:
            self._last.pop((identity, sid), None)


def allow_typing(services: Services, identity: str, sid: str) -> bool:
    """True when a typing signal from ``identity`` in ``sid`` may go out now."""
    if not services.typing.allow(identity, sid):
        return False
    try:
        return services.broker.claim(_key(identity, sid), TYPING_MIN_INTERVAL)
    except BrokerUnavailable as exc:
        raise ApiError(503, "unavailable", "Typing could not be relayed; try again.") from exc


def typing_ended(services: Services, identity: str, sid: str) -> None:
    """``identity`` sent a message in ``sid``: their next keystroke starts a new burst."""
    services.typing.forget(identity, sid)
    try:
        services.broker.release(_key(identity, sid))
    except BrokerUnavailable:
        pass  # the claim expires within TYPING_MIN_INTERVAL anyway


def _key(identity: str, sid: str) -> str:
    return f"parley:typing:{{{identity}}}:{sid}"
