"""A stream ends as soon as its client hangs up, not at the next heartbeat write.

The watcher is a libev read watcher on gevent's hub; these tests run the hub themselves, as
a gevent worker's loop always does, until the hub has seen the socket's state (no timed sleeps).
"""

from __future__ import annotations

import socket

import gevent
from gevent.socket import wait_read

from webapp.events.broker import Subscription
from webapp.stream.hangup import client_socket, watch_hangup


def _hub_sees(sock: socket.socket) -> None:
    """Run the hub until it has seen ``sock`` readable (5 s deadline), then let it finish that
    loop iteration: every watcher on the socket, the hang-up watcher too, has then run."""
    wait_read(sock.fileno(), timeout=5)
    gevent.sleep(0)  # runs after the iteration's remaining I/O callbacks


def test_a_client_hanging_up_ends_its_stream() -> None:
    server_side, client_side = socket.socketpair()
    subscription = Subscription("alice")
    try:
        stop = watch_hangup(server_side, subscription)
        assert not subscription.closed
        client_side.close()
        _hub_sees(server_side)
        assert subscription.closed
        stop()  # already stopped by itself: harmless
    finally:
        server_side.close()


def test_bytes_from_the_client_are_not_a_hang_up() -> None:
    server_side, client_side = socket.socketpair()
    subscription = Subscription("bob")
    try:
        watch_hangup(server_side, subscription)
        client_side.sendall(b"GET /next HTTP/1.1\r\n")
        _hub_sees(server_side)
        client_side.close()  # the watcher stopped at the bytes: this closes nothing
        _hub_sees(server_side)
        assert not subscription.closed
        assert server_side.recv(3) == b"GET"  # the bytes were only peeked at
    finally:
        server_side.close()


def test_a_stream_that_ends_first_stops_watching() -> None:
    server_side, client_side = socket.socketpair()
    subscription = Subscription("carol")
    try:
        stop = watch_hangup(server_side, subscription)
        stop()
        client_side.close()
        _hub_sees(server_side)
        assert not subscription.closed
    finally:
        server_side.close()


def test_only_a_gevent_servers_socket_is_watched() -> None:
    server_side, client_side = socket.socketpair()
    try:
        # This test process is not monkey-patched: no hub runs the watchers, so none is made.
        assert client_socket({"gunicorn.socket": server_side}) is None
        assert client_socket({}) is None
        watch_hangup(None, Subscription("dave"))()
    finally:
        server_side.close()
        client_side.close()
