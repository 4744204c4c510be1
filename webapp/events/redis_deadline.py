"""Redis waits that respect the current request's deadline (:mod:`webapp.deadline`).

The command pool (:func:`webapp.events.redis_broker.connect`) waits up to 5 s for a free
connection and for each reply: right for a stream or an API call, too long for a webhook,
which Twilio abandons after 5 s in all. With these classes in the pool, a wait inside a
deadline is cut to the time left, and no command is sent once it is gone
(:class:`~webapp.deadline.DeadlineExceeded`). Outside a deadline nothing changes.

redis-py reads a connection's ``socket_timeout`` when it connects (the handshake included)
and leaves it on the socket; so each command sets it again before it is sent.
"""

from __future__ import annotations

import queue
from typing import Any

import gevent.queue
import redis
from gevent import get_hub, getcurrent
from gevent.monkey import is_module_patched
from redis.connection import AbstractConnection, parse_url

from webapp import deadline

_Empty = queue.Empty
_gevent_get = gevent.queue.LifoQueue.get


class ThreadDeadlineQueue(queue.LifoQueue[Any]):
    """The pool's free connections, between threads: a wait for one ends at the deadline at
    the latest."""

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if self.queue:
            try:
                return super().get(False)
            except _Empty:  # another thread took it meanwhile: wait like anyone else
                pass
        return super().get(block, deadline.capped(timeout))


class GeventDeadlineQueue(gevent.queue.LifoQueue):
    """The pool's free connections, between greenlets: a wait for one ends at the deadline at
    the latest.

    Taking a free connection asks nothing of the deadline. A webhook's greenlets often wait,
    since they outnumber the pool's connections; gevent's queue would build a
    :class:`gevent.Timeout` per wait (most of the pool's cost in a profile of intake), so the
    wait arms a bare loop timer instead, which fails it the same way (``Empty``).
    """

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if self.queue or not block:
            return _gevent_get(self, block, timeout)
        timeout = deadline.capped(timeout)
        if timeout is None:
            return _gevent_get(self, True, None)
        timer = get_hub().loop.timer(timeout, priority=-1)
        # update: the loop's clock may be stale after a busy stretch; don't expire early.
        timer.start(getcurrent().throw, _Empty, update=True)
        try:
            return _gevent_get(self, True, None)
        finally:
            timer.close()


#: The pool's queue class for this process: gevent's when the gevent worker patched ``queue``.
DeadlineQueue: type[Any] = (
    GeventDeadlineQueue if is_module_patched("queue") else ThreadDeadlineQueue
)


class _DeadlineTimeouts(AbstractConnection):
    """Mixed into redis-py's connection classes: every timeout is capped by the deadline."""

    @property
    def socket_timeout(self) -> float | None:
        return deadline.capped(self._socket_timeout)

    @socket_timeout.setter
    def socket_timeout(self, value: float | None) -> None:
        self._socket_timeout = value

    @property
    def socket_connect_timeout(self) -> float | None:
        return deadline.capped(self._socket_connect_timeout)

    @socket_connect_timeout.setter
    def socket_connect_timeout(self, value: float | None) -> None:
        self._socket_connect_timeout = value

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        deadline.check()
        if self._sock is not None:
            self._sock.settimeout(self.socket_timeout)
        super().send_packed_command(command, check_health)


class DeadlineConnection(_DeadlineTimeouts, redis.Connection):
    pass


class DeadlineSSLConnection(_DeadlineTimeouts, redis.SSLConnection):
    pass


class DeadlineUnixConnection(_DeadlineTimeouts, redis.UnixDomainSocketConnection):
    pass


_WITH_DEADLINE: dict[type[Any], type[Any]] = {
    redis.Connection: DeadlineConnection,
    redis.SSLConnection: DeadlineSSLConnection,
    redis.UnixDomainSocketConnection: DeadlineUnixConnection,
}


def connection_class_for(url: str) -> type[Any]:
    """The deadline-aware variant of the connection class redis-py picks for ``url``
    (``redis://``, ``rediss://`` or ``unix://``)."""
    chosen = parse_url(url).get("connection_class", redis.Connection)
    return _WITH_DEADLINE.get(chosen, chosen)
