"""One writer per process for every open stream, once its first bytes are out.

Left to gunicorn, a stream's request greenlet lives as long as the stream: each event wakes
it (a greenlet switch) and gunicorn writes it as one chunk (``sendall`` through its response
writer), per stream and per event. For a message to a 1,000-member group that is 1,000
switches and 1,000 passes through gunicorn's writer, and every idle stream keeps a greenlet's
saved stack plus gunicorn's and werkzeug's request objects (≈ 28 KB, see
``docs/benchmarks.md``).

So under gunicorn's gevent worker, once a stream has written its headers, its first event and
any replay through gunicorn, its socket is *handed over*: detached from gunicorn (which then
forgets the connection without closing it) and kept here, and the request's greenlet ends.
The writer's one greenlet frames what each ready inbox holds as one HTTP/1.1 chunk and
``send``\\ s it without blocking. A client whose socket buffer is full gets a libev write
watcher that sends the rest when it can; the writer never waits for a client, and a client
:data:`MAX_PENDING` bytes behind is cut off and resumes by replay. A libev read watcher per
connection notices a hang-up at once (see ``hangup.py``). The one wait it makes is for the
broker's listener, at most :data:`HOLD_SECONDS` a pass, while that holds messages already
received: events that arrived together then go out together (see ``flush``).
"""

from __future__ import annotations

import _socket
import errno
import logging
import random
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import gevent
from gevent import get_hub
from gevent.event import Event

from webapp.events.broker import Backlog, BrokerUnavailable, CatchUp, Subscription
from webapp.events.redis_broker import ReplayBroken
from webapp.ops.metrics import Metrics
from webapp.stream.outbox import Outbox
from webapp.stream.sse import closing, comment

log = logging.getLogger(__name__)

#: Bytes a client may fall behind (beyond what its socket buffers hold) before it is cut off.
MAX_PENDING = 256 * 1024
#: Streams written between two cooperative yields: webhooks keep being served meanwhile.
WRITE_SLICE = 256
#: The longest one pass of the writer waits for the listener to dispatch the messages it has
#: already received (:class:`~webapp.events.broker.Backlog`): about what dispatching a few
#: messages to a group of 1,000 takes.
HOLD_SECONDS = 0.02

#: Reconnects after a worker exits: at least this long, spread over this much per stream
#: ending (about what a worker can take back per millisecond), and never longer than this.
RECONNECT_MIN_MS = 2000
RECONNECT_SPREAD_MS_PER_STREAM = 1
RECONNECT_SPREAD_MAX_MS = 15_000

_READ, _WRITE = 1, 2  # libev's EV_READ, EV_WRITE
_LAST_CHUNK = b"0\r\n\r\n"


class HandedOver(BrokenPipeError):
    """Raised out of the response body once the connection belongs to the writer.

    gunicorn treats a broken pipe as the client having gone: it stops writing the response,
    logs at debug level and closes its socket object, which, detached, no longer holds the
    connection. Nothing else ends a WSGI response without gunicorn finishing it (the last
    chunk) or closing the connection."""


class Connection:
    """A handed-over stream: its socket, inbox and position, and what is still unsent."""

    __slots__ = (
        "sock",
        "subscription",
        "outbox",
        "chunked",
        "pending",
        "pending_bytes",
        "reader",
        "drainer",
        "on_end",
        "broken",
        "busy",
    )

    def __init__(
        self,
        sock: Any,
        subscription: Subscription,
        outbox: Outbox,
        chunked: bool,
        on_end: Callable[[bool], None],
    ) -> None:
        self.sock = sock
        self.subscription = subscription
        self.outbox = outbox
        self.chunked = chunked
        self.pending: list[memoryview] | None = None  # made only for a client that lags
        self.pending_bytes = 0
        loop = get_hub().loop
        self.reader = loop.io(sock.fileno(), _READ)
        self.drainer = loop.io(sock.fileno(), _WRITE)
        self.on_end = on_end
        self.broken = False  # the client is gone: write nothing more
        self.busy = False  # a catch-up from the log is being read for it


def can_hand_over(environ: dict[str, Any], sock: socket.socket | None) -> bool:
    """True under gunicorn's gevent worker for a plain-TCP ``GET`` over HTTP/1.x: the cases
    where the writer knows the framing (chunked for 1.1, raw for 1.0) and owns the socket."""
    return (
        sock is not None
        and "gunicorn.socket" in environ
        and environ.get("REQUEST_METHOD") == "GET"
        and environ.get("SERVER_PROTOCOL") in ("HTTP/1.1", "HTTP/1.0")
        and not hasattr(sock, "getpeercert")  # TLS terminated by gunicorn itself: keep it
    )


class StreamWriter:
    """Writes every handed-over stream of this process; see the module docstring."""

    def __init__(
        self,
        metrics: Metrics,
        backlog: Backlog | None = None,
        max_pending: int = MAX_PENDING,
        hold: float = HOLD_SECONDS,
    ) -> None:
        self.metrics = metrics
        self._delivered = 0  # events written, not yet counted (see _count_delivered)
        self.backlog = backlog or Backlog()
        self.max_pending = max_pending
        self.hold = hold
        self._caught_up = Event()  # set when the listener has dispatched what it received
        self.backlog.on_idle(self._caught_up.set)
        self._connections: dict[Subscription, Connection] = {}
        self._ready: dict[Subscription, None] = {}  # an ordered set
        self._wake: Event | None = None
        self._runner: gevent.Greenlet | None = None

    def __len__(self) -> int:
        return len(self._connections)

    def adopt(
        self,
        sock: socket.socket,
        subscription: Subscription,
        outbox: Outbox,
        chunked: bool,
        on_end: Callable[[bool], None],
    ) -> None:
        """Take ``sock``'s connection over (detaching it from its server) and write
        ``subscription`` from now on; ``on_end(exiting)`` runs once the stream has ended
        (``exiting``: because the worker is)."""
        raw = _socket.socket(fileno=sock.detach())
        raw.setblocking(False)
        conn = Connection(raw, subscription, outbox, chunked, on_end)
        conn.reader.start(self._readable, conn)
        self._connections[subscription] = conn
        subscription.on_ready = self._mark
        if self._runner is None:
            self._wake = Event()
            self._runner = gevent.spawn(self._run)
        self._mark(subscription)  # whatever was queued while the stream was starting

    def _mark(self, subscription: Subscription) -> None:
        """An inbox has something to write (or closed, or a heartbeat is due)."""
        ready = self._ready
        if not ready and self._wake is not None:
            self._wake.set()
        ready[subscription] = None

    def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.wait()
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the writer must outlive any one stream's failure
                log.exception("stream writer failed")

    def flush(self) -> None:
        """Write every ready stream, yielding to the rest of the worker now and then.

        Before each slice, the pass waits (``hold`` seconds in all) for the listener to
        dispatch what it has received: a stream then gets every event owed to it in one send."""
        written = 0
        until = time.monotonic() + self.hold
        self._hold(until)
        while self._ready:
            batch, self._ready = self._ready, {}
            for subscription in batch:
                conn = self._connections.get(subscription)
                if conn is not None and not conn.busy:
                    self._write(conn)
                written += 1
                if written % WRITE_SLICE == 0:
                    self._count_delivered()
                    gevent.sleep(0)
                    self._hold(until)
        self._count_delivered()

    def _count_delivered(self) -> None:
        """Pass the events written since last time to the metrics: once per slice, not per
        stream (in a broadcast, once per stream was a twentieth of the worker)."""
        if self._delivered:
            delivered, self._delivered = self._delivered, 0
            self.metrics.event_delivered(delivered)

    def _hold(self, until: float) -> None:
        """While a listener holds received messages, wait for it (until ``until`` at most)."""
        left = until - time.monotonic()
        if self.backlog.pending and left > 0:
            self._caught_up.clear()
            self._caught_up.wait(left)

    def close_all(self) -> None:
        """The worker is exiting: end every stream now, all of them first (sends that never
        wait, so every browser is told within milliseconds), then each one's bookkeeping,
        told that the worker is exiting.

        Each stream is told when to come back: a delay drawn at random over a window that
        grows with the number of streams (:func:`reconnect_delays`), so 10,000 browsers do not
        reconnect in the same second, overflowing the listen queue (dropped connection
        attempts are retried by TCP only after 1, 3, 7, 15 s...) and the new worker."""
        ended = list(self._connections.values())
        delays = reconnect_delays(len(ended))
        for conn, delay_ms in zip(ended, delays, strict=True):
            conn.subscription.close()
            self._finish(conn, delay_ms)
        for conn in ended:
            self._cleanup(conn, exiting=True)
        if ended:
            log.info("ended %d streams: this worker is exiting", len(ended))

    # One stream ---------------------------------------------------------------------------

    def _write(self, conn: Connection) -> None:
        subscription = conn.subscription
        if subscription.closed:
            self._end(conn)
            return
        items, beat = subscription.take_all()
        if any(isinstance(item, CatchUp) for item in items):
            conn.busy = True  # reading the log waits for Redis: not on the writer's greenlet
            gevent.spawn(self._catch_up, conn, items, beat)
            return
        self._render_and_send(conn, items, beat)

    def _catch_up(self, conn: Connection, items: list[Any], beat: bool) -> None:
        try:
            self._render_and_send(conn, items, beat)
        except (ReplayBroken, BrokerUnavailable):
            log.info(
                "stream of %s ends: its log could not be read; it will resume", conn.outbox.identity
            )
            conn.subscription.close()
        finally:
            conn.busy = False
            self._mark(conn.subscription)

    def _render_and_send(self, conn: Connection, items: list[Any], beat: bool) -> None:
        text, delivered = conn.outbox.render(items) if items else ("", 0)
        if not text:
            if not beat:
                return
            text = comment("heartbeat")
        self._send(conn, text.encode())
        self._delivered += delivered

    def _send(self, conn: Connection, data: bytes) -> None:
        if conn.broken:
            return
        if conn.chunked:
            data = b"%x\r\n%b\r\n" % (len(data), data)
        if conn.pending is not None:  # still sending earlier bytes: queue behind them
            conn.pending.append(memoryview(data))
            conn.pending_bytes += len(data)
            if conn.pending_bytes > self.max_pending:
                log.info("stream of %s cut off: too far behind", conn.outbox.identity)
                conn.subscription.overflowed = True
                self._break(conn)
            return
        try:
            sent = conn.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._break(conn)
            return
        if sent < len(data):
            conn.pending = [memoryview(data)[sent:]]
            conn.pending_bytes = len(data) - sent
            conn.drainer.start(self._drain, conn)

    def _drain(self, conn: Connection) -> None:
        """The socket can take more (runs in the hub: must not block or switch)."""
        pending = conn.pending
        while pending:
            try:
                sent = conn.sock.send(pending[0])
            except BlockingIOError:
                return
            except OSError:
                self._break(conn)
                return
            conn.pending_bytes -= sent
            if sent < len(pending[0]):
                pending[0] = pending[0][sent:]
                return
            del pending[0]
        conn.pending = None
        conn.drainer.stop()

    def _readable(self, conn: Connection) -> None:
        """An SSE client sends nothing after its request: readable means it hung up (runs in
        the hub: a non-blocking peek, never a wait)."""
        try:
            data = conn.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        conn.reader.stop()
        if not data:
            self._break(conn)

    def _break(self, conn: Connection) -> None:
        """The client is gone or hopelessly behind: drop what is unsent and end the stream."""
        conn.broken = True
        conn.pending = None
        conn.drainer.stop()
        conn.subscription.close()  # marks it: the writer ends it on its next pass

    def _end(self, conn: Connection) -> None:
        if self._finish(conn):
            self._cleanup(conn, exiting=False)

    def _finish(self, conn: Connection, reconnect_ms: int | None = None) -> bool:
        """Send the retry hint (``reconnect_ms``: a ``reconnect`` event and ``retry:`` with
        that delay) and the last chunk, close the connection; False if already closed."""
        if self._connections.pop(conn.subscription, None) is None:
            return False
        conn.subscription.on_ready = None
        conn.reader.stop()
        if conn.pending is None and not conn.broken:
            # Ended by logout, shutdown or falling behind: the browser reconnects and replays.
            tail = closing(reconnect_ms).encode()
            try:
                conn.sock.send(
                    b"%x\r\n%b\r\n%b" % (len(tail), tail, _LAST_CHUNK) if conn.chunked else tail
                )
            except OSError:
                pass
        conn.broken = True  # a catch-up still running for it writes nothing more
        conn.drainer.stop()
        conn.reader.close()
        conn.drainer.close()
        conn.sock.close()
        return True

    @staticmethod
    def _cleanup(conn: Connection, exiting: bool) -> None:
        try:
            conn.on_end(exiting)
        except Exception:
            log.exception("cleaning up the stream of %s failed", conn.outbox.identity)


def close_after(body: bytes, sock: socket.socket | None, chunked: bool) -> Iterator[bytes]:
    """A response of ``body`` alone that, with ``sock`` (see :func:`can_hand_over`), closes
    its connection once sent: gunicorn would keep it open for another request, ignoring an
    application's ``Connection: close``, and a turned-away stream opening comes back on a new
    connection anyway, so its socket and greenlet are freed at once."""
    yield body  # gunicorn sends it, headers first
    if sock is None:
        return
    raw = _socket.socket(fileno=sock.detach())
    try:
        if chunked:
            raw.send(_LAST_CHUNK)
    except OSError:
        pass
    raw.close()
    raise HandedOver(errno.EPIPE, "the response is complete and its connection closed")


def reconnect_delays(streams: int) -> list[int]:
    """Milliseconds each of ``streams`` ending at once waits before reconnecting: spread
    evenly at random over :data:`RECONNECT_SPREAD_MS_PER_STREAM` per stream (1,000 streams:
    within 1 s, 10,000: within 10 s), at most :data:`RECONNECT_SPREAD_MAX_MS`, after
    :data:`RECONNECT_MIN_MS`."""
    window = min(RECONNECT_SPREAD_MAX_MS, streams * RECONNECT_SPREAD_MS_PER_STREAM)
    return [RECONNECT_MIN_MS + int(random.random() * window) for _ in range(streams)]
