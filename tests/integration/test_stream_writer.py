"""Streams handed over to the process's stream writer, read as raw HTTP/1.1.

Under gunicorn's gevent worker a stream's connection belongs to one writer per process once
its first bytes are out (``webapp/stream/writer.py``). These tests read the response with
``http.client``, which checks the chunked framing byte for byte: every event the writer
sends is a well-formed chunk, and a stream it ends finishes the response properly (its
retry hint, then the last chunk), whether ended by logout or by the worker shutting down.
"""

from __future__ import annotations

import http.client
import re
import signal
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.clients import ApiClient
from tests.support.servers import ParleyServer, RedisServer, run_parley
from tests.support.waiting import wait_until


class RawStream:
    """``GET /stream`` over ``http.client``: the body as the server framed it, read by a
    thread; ``complete`` is set once the response ended with its last chunk."""

    def __init__(self, client: ApiClient) -> None:
        url = urlsplit(client.base_url)
        self.connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        cookies = "; ".join(f"{c.name}={c.value}" for c in client.session.cookies)
        self.connection.request("GET", "/stream", headers={"Cookie": cookies})
        self.response = self.connection.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Transfer-Encoding") == "chunked"
        self.text = ""
        self.complete = False
        self.error: Exception | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while True:
                data = self.response.read1(65536)  # raises IncompleteRead on a torn chunk
                if not data:
                    self.complete = True
                    return
                with self._lock:
                    self.text += data.decode()
        except Exception as exc:  # noqa: BLE001 - the test asserts on it
            self.error = exc

    def has(self, needle: str) -> bool:
        with self._lock:
            return needle in self.text

    def ended(self) -> bool:
        return not self._thread.is_alive()

    def close(self) -> None:
        self.connection.close()


def test_events_arrive_as_chunks_and_logout_ends_the_response_properly(
    parley_server: ParleyServer,
) -> None:
    alice = ApiClient(parley_server.url).login("alice", parley_server.password)
    carol = ApiClient(parley_server.url).login("carol", parley_server.password)
    stream = RawStream(carol)
    try:
        wait_until(lambda: stream.has(": connected"), 5, "the stream's first bytes")
        conversation = alice.start_dm("carol")
        bodies = [f"chunk {n} {uuid.uuid4().hex[:6]}" for n in range(3)]
        for body in bodies:
            assert alice.send(conversation["sid"], body).status_code == 201
        wait_until(lambda: all(stream.has(b) for b in bodies), 5, "carol's three messages")

        response = carol.session.post(
            parley_server.url + "/logout", data={"csrf_token": carol.csrf_token}, timeout=5
        )
        assert response.status_code == 200
        wait_until(stream.ended, 5, "the logged-out stream to end")
        assert stream.error is None, stream.error
        assert stream.complete  # the last chunk came: the response ended, not the socket
        assert stream.text.rstrip().endswith("retry: 2000\n\n: closed")
    finally:
        stream.close()


@pytest.fixture
def own_server(tmp_path: Path, redis_server: RedisServer) -> Iterator[ParleyServer]:
    """A Parley of this test's own, to shut down; it shares the session's Redis (and runs its
    own in-process emulator, so it never sweeps presence of another server's users)."""
    with run_parley(tmp_path, REDIS_URL=redis_server.url) as server:
        yield server


def test_an_http_1_0_client_gets_a_plain_body_that_ends_when_the_stream_does(
    parley_server: ParleyServer,
) -> None:
    """No chunked encoding before HTTP/1.1: the writer sends the bare body and closes."""
    bob = ApiClient(parley_server.url).login("bob", parley_server.password)
    cookies = "; ".join(f"{c.name}={c.value}" for c in bob.session.cookies)
    url = urlsplit(parley_server.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(f"GET /stream HTTP/1.0\r\nCookie: {cookies}\r\n\r\n".encode())
        received = b""

        def read_some() -> bool:
            nonlocal received
            data = sock.recv(65536)
            received += data
            return not data

        wait_until(lambda: read_some() or b": connected" in received, 5, "the first bytes")
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 200") and b"chunked" not in head.lower()
        alice = ApiClient(parley_server.url).login("alice", parley_server.password)
        sid = alice.start_dm("bob")["sid"]
        assert alice.send(sid, "over HTTP/1.0").status_code == 201
        wait_until(lambda: read_some() or b"over HTTP/1.0" in received, 5, "bob's message")
        bob.session.post(
            parley_server.url + "/logout", data={"csrf_token": bob.csrf_token}, timeout=5
        )
        wait_until(read_some, 5, "the server to close the connection")
        assert received.endswith(b"retry: 2000\n\n: closed\n\n")


def test_sigterm_ends_every_stream_saying_when_to_come_back(own_server: ParleyServer) -> None:
    streams = [
        RawStream(ApiClient(own_server.url).login(name, own_server.password))
        for name in ("alice", "bob")
    ]
    try:
        for stream in streams:
            wait_until(lambda s=stream: s.has(": connected"), 5, "the stream's first bytes")
        own_server.process.send_signal(signal.SIGTERM)
        for stream in streams:
            wait_until(stream.ended, 10, "the stream to end on SIGTERM")
            assert stream.error is None, stream.error
            assert stream.complete
            # When to come back, for the page (an event) and for EventSource (retry:): spread
            # with the number of streams ending, so two streams come back within 2 ms of 2 s.
            match = re.search(
                r'event: reconnect\ndata: \{"after_ms":(\d+)\}\n\nretry: (\d+)\n\n: closed\n\n$',
                stream.text,
            )
            assert match and match[1] == match[2] and 2000 <= int(match[1]) <= 2002, stream.text
        assert own_server.process.wait(15) == 0
    finally:
        for stream in streams:
            stream.close()


def test_a_stream_ends_when_its_session_expires(short_sessions: ParleyServer) -> None:
    carol = ApiClient(short_sessions.url).login("carol", short_sessions.password)
    stream = RawStream(carol)
    try:
        wait_until(lambda: stream.has(": connected"), 5, "the stream's first bytes")
        # The lifetime, then at most one heartbeat period (15 s) for the ticker to notice.
        wait_until(stream.ended, 25, "the stream to end with its session")
        assert stream.error is None, stream.error
        assert stream.complete and stream.text.rstrip().endswith("retry: 2000\n\n: closed")
        assert carol.get("/stream").status_code == 401  # the reconnect: log in again
        assert carol.get("/api/conversations").status_code == 401
    finally:
        stream.close()
