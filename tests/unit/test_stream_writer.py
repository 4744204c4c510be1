"""The process's stream writer, on real sockets and gevent's real hub.

Each test hands the server end of a socket pair to a :class:`StreamWriter` (as the stream
route does with a gunicorn connection) and reads the client end as a browser would. The
writer's greenlet and libev watchers run whenever the test waits on the hub (``wait_read``
with a deadline), never by timed sleeps.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import gevent
import pytest
from gevent.socket import wait_read

from webapp.events.broker import CATCH_UP
from webapp.events.memory_broker import MemoryBroker
from webapp.events.types import Delivery, Event, EventId
from webapp.ops.metrics import Metrics
from webapp.stream.outbox import Outbox
from webapp.stream.writer import (
    RECONNECT_MIN_MS,
    RECONNECT_SPREAD_MAX_MS,
    StreamWriter,
    reconnect_delays,
)

#: Where a fresh stream's outbox starts (the deliveries below use this epoch).
START = EventId("e1", 0)


class Client:
    """The browser's end: reads what arrives and decodes the HTTP/1.1 chunks."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.raw = b""
        self.eof = False

    def read_until(self, needle: bytes, timeout: float = 5) -> bytes:
        """Read (running the hub while waiting) until ``needle`` arrived or the deadline."""
        deadline = gevent.get_hub().loop.now() + timeout
        while needle not in self.raw and not self.eof:
            left = deadline - gevent.get_hub().loop.now()
            assert left > 0, f"{needle!r} never arrived; got {self.raw[-200:]!r}"
            wait_read(self.sock.fileno(), timeout=left)
            data = self.sock.recv(65536)
            self.eof = not data
            self.raw += data
        return self.raw

    def chunks(self) -> list[bytes]:
        """The body's chunks, checking the framing; a final ``b""`` is the last chunk."""
        out, rest = [], self.raw
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            assert rest[size : size + 2] == b"\r\n", "a chunk without its CRLF"
            out.append(rest[:size])
            rest = rest[size + 2 :]
        return out


class Stream:
    """One handed-over stream: subscription, writer-side end, client, and its end."""

    def __init__(
        self,
        writer: StreamWriter,
        identity: str,
        broker: MemoryBroker,
        last: EventId = START,
        chunked: bool = True,
    ) -> None:
        server_side, client_side = socket.socketpair()
        self.client = Client(client_side)
        self.subscription = broker.subscribe(identity)
        self.ended = False
        self.exiting: bool | None = None
        writer.adopt(
            server_side,
            self.subscription,
            Outbox(broker, identity, last),
            chunked=chunked,
            on_end=self._end,
        )

    def _end(self, exiting: bool) -> None:
        self.ended = True
        self.exiting = exiting


@pytest.fixture
def broker() -> MemoryBroker:
    return MemoryBroker()


@pytest.fixture
def writer() -> Iterator[StreamWriter]:
    writer = StreamWriter(Metrics(), max_pending=16 * 1024)
    yield writer
    writer.close_all()


def delivery(seq: int, text: str = "hi", epoch: str = "e1") -> Delivery:
    return Delivery(EventId(epoch, seq), Event("message_added", {"body": text}).to_json())


def run_hub_until(condition: object, what: str) -> None:
    """Let the writer and the watchers run until ``condition()`` (5 s deadline)."""
    with gevent.Timeout(5, AssertionError(f"timed out waiting for {what}")):
        while not condition():  # type: ignore[operator]
            gevent.idle()


def test_each_wake_up_is_one_chunk_in_order_and_replayed_ids_are_skipped(
    writer: StreamWriter, broker: MemoryBroker
) -> None:
    stream = Stream(writer, "alice", broker)
    stream.subscription.offer(delivery(1, "one"))
    stream.subscription.offer(delivery(2, "two"))
    stream.client.read_until(b"two")
    stream.subscription.offer(delivery(2, "two again"))  # already written: dropped
    stream.subscription.offer(delivery(3, "three"))
    stream.client.read_until(b"three")
    chunks = stream.client.chunks()
    assert len(chunks) == 2  # both first events in one write
    assert chunks[0].startswith(b"id: e1-1\nevent: message_added\n")
    assert b"id: e1-2\n" in chunks[0] and b"two again" not in b"".join(chunks)
    assert chunks[1].startswith(b"id: e1-3\n")


def test_events_dispatched_while_the_listener_is_busy_go_out_in_one_chunk(
    broker: MemoryBroker,
) -> None:
    writer = StreamWriter(Metrics(), hold=60)  # no deadline that a slow machine could reach
    stream = Stream(writer, "alice", broker)
    listener = object()
    writer.backlog.busy(listener)  # it has received messages and is dispatching them
    stream.subscription.offer(delivery(1, "one"))
    gevent.idle()  # the writer has woken, and waits
    assert stream.client.raw == b""
    stream.subscription.offer(delivery(2, "two"))
    writer.backlog.idle(listener)
    stream.client.read_until(b"two")
    assert len(stream.client.chunks()) == 1
    writer.close_all()


def test_a_listener_that_stays_busy_delays_a_write_by_the_hold_at_most(
    broker: MemoryBroker,
) -> None:
    writer = StreamWriter(Metrics(), hold=0.05)
    stream = Stream(writer, "alice", broker)
    writer.backlog.busy(object())  # and never idle again
    stream.subscription.offer(delivery(1, "one"))
    stream.client.read_until(b"one")
    stream.subscription.offer(delivery(2, "two"))
    stream.client.read_until(b"two")
    writer.close_all()


def test_a_heartbeat_is_a_comment_chunk(writer: StreamWriter, broker: MemoryBroker) -> None:
    stream = Stream(writer, "alice", broker)
    stream.subscription.beat()
    stream.client.read_until(b": heartbeat")
    assert stream.client.chunks() == [b": heartbeat\n\n"]


def test_an_ended_stream_gets_its_retry_hint_then_the_last_chunk(
    writer: StreamWriter, broker: MemoryBroker
) -> None:
    stream = Stream(writer, "alice", broker)
    stream.subscription.close()  # logout, or the worker shutting down
    stream.client.read_until(b"0\r\n\r\n")
    stream.client.read_until(b"never")  # then the server closes the connection
    assert stream.client.eof and stream.ended and stream.exiting is False
    assert stream.client.chunks() == [b"retry: 2000\n\n: closed\n\n", b""]
    assert len(writer) == 0


def test_a_worker_exiting_tells_every_stream_first_then_cleans_up(
    writer: StreamWriter, broker: MemoryBroker
) -> None:
    streams = [Stream(writer, f"user{n}", broker) for n in range(3)]
    writer.close_all()
    for stream in streams:
        stream.client.read_until(b"never")  # each got its hint and last chunk, then the close
        [tail, last] = stream.client.chunks()
        match = re.fullmatch(
            rb'event: reconnect\ndata: \{"after_ms":(\d+)\}\n\nretry: (\d+)\n\n: closed\n\n', tail
        )
        assert match and match[1] == match[2] and last == b""
        assert RECONNECT_MIN_MS <= int(match[1]) <= RECONNECT_MIN_MS + 3  # 3 streams: 3 ms
        assert stream.ended and stream.exiting is True  # cleanup knows: presence left alone
    assert len(writer) == 0


def test_reconnects_after_a_worker_exits_are_spread_with_the_number_of_streams() -> None:
    few, many, huge = reconnect_delays(10), reconnect_delays(10_000), reconnect_delays(10**6)
    assert max(few) < RECONNECT_MIN_MS + 10
    assert min(many) >= RECONNECT_MIN_MS and max(many) < RECONNECT_MIN_MS + 10_000
    assert max(many) - min(many) > 5_000  # spread over the window, not bunched
    assert max(huge) < RECONNECT_MIN_MS + RECONNECT_SPREAD_MAX_MS


def test_a_client_hanging_up_ends_its_stream_at_once(
    writer: StreamWriter, broker: MemoryBroker
) -> None:
    stream = Stream(writer, "alice", broker)
    stream.client.sock.close()
    run_hub_until(lambda: stream.ended, "the hang-up to end the stream")
    assert stream.subscription.closed and len(writer) == 0


def test_a_client_that_stops_reading_is_cut_off_and_nobody_waits_for_it(
    writer: StreamWriter, broker: MemoryBroker
) -> None:
    slow, fast = Stream(writer, "slow", broker), Stream(writer, "fast", broker)
    slow.client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    big = "x" * 4000
    for seq in range(1, 201):  # 800 KB: far beyond the socket buffers and max_pending
        for stream in (slow, fast):
            stream.subscription.offer(delivery(seq, f"{seq} {big}"))
        fast.client.read_until(f'"{seq} '.encode())  # the fast one keeps up, event by event
        if slow.ended:
            break
    run_hub_until(lambda: slow.ended, "the slow client to be cut off")
    assert slow.subscription.overflowed and not fast.ended
    fast.subscription.offer(delivery(1000, "still served"))
    fast.client.read_until(b"still served")


def test_a_catch_up_after_a_reconnect_reads_the_log_off_the_writers_greenlet(
    writer: StreamWriter, broker: MemoryBroker
) -> None:
    cursor = broker.cursor("alice")
    stream = Stream(writer, "alice", broker, last=cursor)
    stream.subscription.on_ready = None  # as if pub/sub were down: nothing live arrives
    broker.unsubscribe(stream.subscription)
    broker.publish(Event("message_added", {"body": "missed"}), ["alice"])
    stream.subscription.on_ready = writer._mark  # back (the broker re-subscribed)
    broker.subscriptions.add(stream.subscription)  # type: ignore[attr-defined]
    stream.subscription.offer(CATCH_UP)
    stream.client.read_until(b"missed")
    assert f"id: {broker.cursor('alice')}\n".encode() in stream.client.raw
    assert broker.cursor("alice").seq == cursor.seq + 1


def test_an_http_1_0_client_gets_the_bare_body_ended_by_closing(
    writer: StreamWriter, broker: MemoryBroker
) -> None:
    stream = Stream(writer, "alice", broker, chunked=False)
    stream.subscription.offer(delivery(1, "plain"))
    stream.client.read_until(b"plain")
    stream.subscription.close()
    stream.client.read_until(b"never")  # the server closes: that ends an HTTP/1.0 body
    assert stream.client.raw.startswith(b"id: e1-1\nevent: message_added\n")
    assert stream.client.raw.endswith(b"\n\nretry: 2000\n\n: closed\n\n")
