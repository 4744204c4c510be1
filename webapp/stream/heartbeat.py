"""One heartbeat ticker per process, instead of a timed wait per stream.

Every open stream must write something at least every :data:`HEARTBEAT_SECONDS` (Heroku cuts
a connection idle for 55 s). A timed wait per stream costs a timer made and cancelled on
every wake-up, and its memory while waiting; one ticker that wakes every open stream each
period costs a pass over a set, spread over the period in small groups.
"""

from __future__ import annotations

import logging
import threading
import time

from webapp.events.broker import Subscription
from webapp.ops.metrics import Metrics

log = logging.getLogger(__name__)

#: Seconds between heartbeat comments: well inside Heroku's 55 s idle cut-off.
HEARTBEAT_SECONDS = 15.0
#: Groups of streams woken in turn within each period (so 10,000 streams: 167 every 0.25 s).
HEARTBEAT_SLOTS = 60


class HeartbeatTicker:
    """Wakes each registered subscription once every ``interval`` seconds (``beat``).

    Streams are spread over ``slots`` groups, one group woken per ``interval / slots``: waking
    all 10,000 streams of a worker at the same instant would hold the worker for a few hundred
    milliseconds and delay every webhook behind it. Its thread (a greenlet under gevent)
    starts with the first stream, so after the fork.
    """

    def __init__(
        self, metrics: Metrics, interval: float = HEARTBEAT_SECONDS, slots: int = HEARTBEAT_SLOTS
    ) -> None:
        self.metrics = metrics
        self.interval = interval
        self._slots: list[set[Subscription]] = [set() for _ in range(slots)]
        self._slot_of: dict[Subscription, int] = {}
        self._next_slot = 0  # where the next stream goes (round robin)
        self._due = 0  # the slot the next tick wakes
        self._lock = threading.Lock()
        self._started = False

    def add(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._slot_of:
                return
            slot = self._next_slot
            self._next_slot = (slot + 1) % len(self._slots)
            self._slots[slot].add(subscription)
            self._slot_of[subscription] = slot
            if not self._started:
                self._started = True
                threading.Thread(target=self._run, name="parley-heartbeat", daemon=True).start()

    def discard(self, subscription: Subscription) -> None:
        with self._lock:
            slot = self._slot_of.pop(subscription, None)
            if slot is not None:
                self._slots[slot].discard(subscription)

    def __len__(self) -> int:
        return len(self._slot_of)

    def tick(self) -> None:
        """Wake the streams of the next slot (every slot once per ``interval``), ending those
        whose session has expired (so within one ``interval`` of the expiry)."""
        with self._lock:
            due = tuple(self._slots[self._due])
            self._due = (self._due + 1) % len(self._slots)
        now = time.monotonic()
        for subscription in due:
            if subscription.expires <= now:
                subscription.close()
            else:
                subscription.beat()

    def _run(self) -> None:
        period = self.interval / len(self._slots)
        while True:
            time.sleep(period)
            try:
                self.tick()
                if self._due == 0:
                    self.metrics.flush()  # deliveries counted since the last write reach /metrics
            except Exception:  # the ticker must outlive any one failure
                log.exception("heartbeat tick failed")
