"""Notice at once when a browser hangs up, instead of at the next heartbeat write.

A stream waiting for events writes nothing for up to a heartbeat (15 s), so a closed tab would
keep its user "online" (and its queue alive) that long. Under gunicorn's gevent worker the
connection's socket is in the WSGI environ, and an SSE client never sends anything after its
request: readable means end of file. One libev read watcher per stream notices it, with no
greenlet of its own (a few hundred bytes, not a stack: idle streams stay cheap).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from gevent import get_hub, monkey

from webapp.events.broker import Subscription

_READ = 1  # libev's EV_READ


def client_socket(environ: dict[str, Any]) -> socket.socket | None:
    """The connection's socket under gunicorn's gevent worker (or its pywsgi one), else None."""
    if not monkey.is_module_patched("socket"):
        return None
    sock = environ.get("gunicorn.socket") or environ.get("gunicorn.sock")
    return sock if isinstance(sock, socket.socket) else None


def watch_hangup(sock: socket.socket | None, subscription: Subscription) -> Callable[[], None]:
    """Close ``subscription`` when the client hangs up; returns the function that stops
    watching (call it when the stream ends, before the server closes or reuses the socket)."""
    if sock is None:
        return _nothing
    raw = getattr(sock, "_sock", sock)  # the real socket: a non-blocking peek, never a wait
    watcher = get_hub().loop.io(sock.fileno(), _READ)

    def readable() -> None:  # runs in the hub: must not block or switch
        try:
            data = raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return  # woken for nothing: keep watching
        except OSError:
            data = b""  # reset: the client is gone
        watcher.stop()
        if not data:
            subscription.close()
        # else bytes, not a hang-up (a pipelined request): stop watching

    watcher.start(readable)
    return watcher.stop


def _nothing() -> None:
    return None
