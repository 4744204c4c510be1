"""How many stream openings a worker serves at once, and when it asks the others to come back.

An opening subscribes and reads the user's log from Redis before its first bytes go out (and
loads its user through the database pool when the session's user is not cached,
``webapp/auth/session_users.py``), while the worker accepts connections far faster than that.
Under a burst (browsers coming back after a network blip, a load balancer failover, a deploy)
openings queued for a pool connection until the pool gave up, and each became a 500, which
``EventSource`` never retries (``docs/benchmarks.md``, "A burst of stream openings").

So a worker serves at most ``STREAM_OPENINGS_IN_FLIGHT`` openings at once (``Config``). They
are not the database pool's connections: most openings of a wave find their user cached and
touch no database, and one that does not is still bounded by the pool (its timeout turns the
opening away, below); with the pool's 15 slots a deploy's wave left the worker's core idle
while most of the wave was turned away (``docs/benchmarks.md``, "A deploy wave with the lean
stream opening").
An opening waits for a slot only while the openings ahead of it should be done within
:data:`WAIT_S` (a queue keeps the worker busy while the returns are on their way); otherwise it
is turned away at once, before Flask's request cycle and without touching the database or
Redis (the cheaper a turn-away, the more of the worker is left for the openings it serves):
``200``, a ``reconnect`` event and ``retry:`` with a delay, and the end of the stream.
``EventSource`` reconnects after a stream that ends, with its ``Last-Event-ID``; the page
(``static/js/stream.js``) obeys ``reconnect`` with its cursor.

The delays schedule the returns a little faster than this worker has lately served openings
(the rate served is also the rate offered: faster lets the schedule find out whether it can
serve more), after those already told to come back, each at a random moment within its place: a
burst comes back as a flow the worker can serve, not as the same burst a few seconds later.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from flask import Flask

from webapp.stream.hangup import client_socket
from webapp.stream.sse import closing
from webapp.stream.writer import can_hand_over, close_after

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

STREAM_PATH = "/stream"
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

#: An opening waits for a slot when the openings ahead of it should be done within this long
#: (everyday bursts of reloads need no round trip, and the worker has work while turned-away
#: openings are on their way back), never longer than twice that.
WAIT_S = 2.0
#: A turned-away opening comes back after at least this long, spread over at most this much
#: more: a schedule planned further ahead would rest on a rate measured too long before.
COME_BACK_MIN_S = 1.0
COME_BACK_SPREAD_MAX_S = 15.0
#: Seconds between two log lines counting the openings turned away.
LOG_EVERY_S = 10.0
#: Until openings have been timed: about what one takes on an idle worker.
FIRST_GUESS_S = 0.01
#: The rate openings are served at is counted over this many seconds.
RATE_WINDOW_S = 1.0
#: Returns are scheduled this many times faster than openings were served: the rate served is
#: also the rate returns were offered, so without more the schedule could never speed up to
#: what the worker can take; those that find it full are turned away again. More turns more
#: away again (10,000 openings at 1,000/s: 2 turned 17,900 away and took 41 s, 1.25 turned
#: 12,500 away and took 35 s; docs/benchmarks.md).
PROBE = 1.25
#: Weight of the latest opening in the running mean of their durations.
SMOOTHING = 0.1


class Admission:
    """Openings in flight (at most ``limit``) and the schedule of returns of those turned away.

    Shared by the greenlets (or threads) of one process: the counters are changed only between
    two switches, and the slots are a semaphore (gevent's under gunicorn, patched in)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)
        self._waiting = 0
        self._mean_s = FIRST_GUESS_S
        self._next_return = 0.0  # the next free place in the schedule of returns
        self._served: deque[float] = deque()  # when each opening of the last few seconds ended
        self.turned_away = 0
        self._logged = (time.monotonic(), 0)

    def admit(self) -> float | None:
        """A slot (the time it was taken, for :meth:`release`), or None: turn the opening away.

        The queue drains at the faster of the rate openings were served lately and the slots
        over an opening's time in one (Little's law: what they could serve)."""
        now = time.monotonic()
        drains = max(self.served_per_second(now), self.limit / max(self._mean_s, 1e-3))
        if (self._waiting + 1) / drains > WAIT_S:
            return None
        self._waiting += 1
        try:
            if not self._slots.acquire(timeout=2 * WAIT_S):
                return None
        finally:
            self._waiting -= 1
        return time.monotonic()

    def release(self, admitted_at: float) -> None:
        """The opening's own work is done (its first bytes are ready to go out)."""
        now = time.monotonic()
        self._mean_s += SMOOTHING * (now - admitted_at - self._mean_s)
        self._served.append(now)
        if self._served[0] <= now - RATE_WINDOW_S:
            self._served.popleft()  # one in, one out at most: kept to the window's worth
        self._slots.release()

    def served_per_second(self, now: float) -> float:
        """How fast openings were served lately: while some are turned away, what this worker
        can serve with all it also does for them (first bytes, presence, turn-aways), which the
        time in a slot alone would overstate. At least one per slot per second (nothing
        served lately: a stalled database or Redis, or a burst just begun)."""
        served = self._served
        while served and served[0] <= now - RATE_WINDOW_S:
            served.popleft()
        return max(len(served) / RATE_WINDOW_S, float(self.limit))

    def come_back_ms(self) -> int:
        """Milliseconds a turned-away opening waits before it tries again: the next free
        place in a schedule of returns at the rate openings are served, jittered within it."""
        self.turned_away += 1
        now = time.monotonic()
        per_second = PROBE * self.served_per_second(now)
        at = max(self._next_return, now + COME_BACK_MIN_S)
        if now - self._logged[0] >= LOG_EVERY_S:
            log.info(
                "turned away %d stream openings in %.0f s; returns planned %.0f s ahead",
                self.turned_away - self._logged[1],
                now - self._logged[0],
                at - now,
            )
            self._logged = (now, self.turned_away)
        if at - now > COME_BACK_MIN_S + COME_BACK_SPREAD_MAX_S:
            # The schedule is full that far: anywhere in it, to be turned away again (cheaply)
            # and placed then, rather than all at its end at once.
            return round((COME_BACK_MIN_S + random.random() * COME_BACK_SPREAD_MAX_S) * 1000)
        self._next_return = at + 1 / per_second
        return round((at - now + random.random() / per_second) * 1000)


def turned_away(environ: dict[str, Any], admission: Admission) -> Iterator[bytes]:
    """The body of a turned-away opening: when to come back (a non-200 answer would make
    ``EventSource`` give up for good), then the end, its connection closed."""
    sock = client_socket(environ)
    return close_after(
        closing(admission.come_back_ms(), "busy").encode(),
        sock if can_hand_over(environ, sock) else None,
        environ["SERVER_PROTOCOL"] == "HTTP/1.1",
    )


class AdmissionGate:
    """WSGI: ``GET /stream`` reaches Flask only with a slot, and holds it until Flask has
    answered (the stream's first bytes ready); the rest are turned away here."""

    def __init__(self, app: WSGIApplication, admission: Admission, headers: dict[str, str]):
        self.app = app
        self.admission = admission
        self.headers = [("Content-Type", "text/event-stream; charset=utf-8")]
        self.headers += [*STREAM_HEADERS.items(), *headers.items()]

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != STREAM_PATH or environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)
        admitted_at = self.admission.admit()
        if admitted_at is None:
            start_response("200 OK", list(self.headers))
            return turned_away(environ, self.admission)
        try:
            return self.app(environ, start_response)
        finally:
            self.admission.release(admitted_at)


def init_admission(app: Flask, admission: Admission, headers: dict[str, str]) -> None:
    """Put the gate in front of the app's WSGI stack."""
    app.wsgi_app = AdmissionGate(app.wsgi_app, admission, headers)  # type: ignore[method-assign]
