"""One deadline per request: its own in each greenlet, and obeyed by every Redis wait.

Redis runs for real, behind a proxy that can hold its answers back. The bounds asserted are
generous (well under the pool's own 5 s): they tell a wait that obeyed the deadline from one
that did not, on a loaded machine too.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import Any

import gevent
import pytest
import redis
from gevent.event import Event

from tests.support.proxy import FaultyProxy
from tests.support.servers import RedisServer
from webapp import deadline
from webapp.events.redis_broker import connect
from webapp.events.redis_deadline import GeventDeadlineQueue, ThreadDeadlineQueue

#: Well under the pool's 5 s timeouts, well over the deadlines used here.
BOUND = 3.0


def test_each_greenlet_has_its_own_deadline_and_none_leaks() -> None:
    seen: dict[str, float | None] = {}
    inside = {"short": Event(), "long": Event()}
    everyone_inside = Event()

    def request(name: str, seconds: float) -> None:
        with deadline.within(seconds):
            inside[name].set()
            assert everyone_inside.wait(5)  # the other requests run meanwhile
            seen[name] = deadline.time_left()
        seen[name + " after"] = deadline.time_left()

    def outsider() -> None:
        for entered in inside.values():
            assert entered.wait(5)
        seen["outsider"] = deadline.time_left()
        everyone_inside.set()

    with deadline.within(100):
        gevent.joinall(
            [
                gevent.spawn(request, "short", 1),
                gevent.spawn(request, "long", 10),
                gevent.spawn(outsider),
            ]
        )
    short, long = seen["short"], seen["long"]
    assert short is not None and long is not None
    assert 0 < short <= 1 and 9 < long <= 10
    assert seen["short after"] is seen["long after"] is seen["outsider"] is None
    assert deadline.time_left() is None


def test_past_the_deadline_nothing_starts_and_waits_are_minimal() -> None:
    assert deadline.capped(5) == 5 and deadline.capped(None) is None
    deadline.check()  # no deadline: nothing to miss
    with deadline.within(0):
        assert deadline.expired()
        with pytest.raises(deadline.DeadlineExceeded):
            deadline.check()
        assert deadline.capped(5) == deadline.capped(None) == deadline.MIN_WAIT


@pytest.fixture
def slow_redis(private_redis: RedisServer) -> Iterator[FaultyProxy]:
    proxy = FaultyProxy(private_redis.port)
    yield proxy
    proxy.close()


def _url(proxy: FaultyProxy) -> str:
    return f"redis://127.0.0.1:{proxy.port}/0"


def test_a_slow_reply_is_waited_for_until_the_deadline_only(slow_redis: FaultyProxy) -> None:
    client = connect(_url(slow_redis))
    assert client.ping()  # connected while Redis was quick
    slow_redis.stall()
    started = time.monotonic()
    with deadline.within(0.3), pytest.raises(redis.TimeoutError):
        client.get("anything")
    assert time.monotonic() - started < BOUND
    slow_redis.resume()
    assert client.ping()  # the pool recovers: a fresh connection, the full timeout again


def test_connecting_to_a_slow_redis_ends_at_the_deadline(slow_redis: FaultyProxy) -> None:
    slow_redis.stall()  # the handshake's replies are held back
    started = time.monotonic()
    with deadline.within(0.3), pytest.raises(redis.RedisError):
        connect(_url(slow_redis)).get("anything")
    assert time.monotonic() - started < BOUND


def test_waiting_for_a_pooled_connection_ends_at_the_deadline(private_redis: RedisServer) -> None:
    client = connect(private_redis.url, max_connections=1)
    held = client.connection_pool.get_connection()  # the only connection, busy elsewhere
    try:
        started = time.monotonic()
        with deadline.within(0.3), pytest.raises(redis.ConnectionError, match="No connection"):
            client.get("anything")
        assert time.monotonic() - started < BOUND
    finally:
        client.connection_pool.release(held)


def test_no_command_is_sent_once_the_deadline_has_passed(private_redis: RedisServer) -> None:
    client = connect(private_redis.url)
    assert client.ping()
    with deadline.within(0), pytest.raises(deadline.DeadlineExceeded):
        client.set("sent-after-the-deadline", "1")
    assert client.get("sent-after-the-deadline") is None


POOL_QUEUES = [ThreadDeadlineQueue, GeventDeadlineQueue]


@pytest.mark.parametrize("queue_class", POOL_QUEUES)
def test_a_free_connection_is_handed_out_at_once_even_past_the_deadline(
    queue_class: type[Any],
) -> None:
    free = queue_class(2)
    free.put_nowait("older")
    free.put_nowait("newer")
    with deadline.within(0):
        assert free.get(True, 5) == "newer"  # last in, first out: the warm connection
    assert free.get(True, 5) == "older"
    with pytest.raises(queue.Empty):
        free.get(False)


@pytest.mark.parametrize("queue_class", POOL_QUEUES)
def test_waiting_for_a_free_connection_ends_at_the_deadline(queue_class: type[Any]) -> None:
    started = time.monotonic()
    with deadline.within(0.2), pytest.raises(queue.Empty):
        queue_class(1).get(True, 5)
    assert 0.15 < time.monotonic() - started < BOUND


@pytest.mark.parametrize("queue_class", POOL_QUEUES)
def test_outside_a_deadline_the_wait_is_the_pools_own(queue_class: type[Any]) -> None:
    started = time.monotonic()
    with pytest.raises(queue.Empty):
        queue_class(1).get(True, 0.2)
    assert 0.15 < time.monotonic() - started < BOUND


def test_a_returned_connection_wakes_a_greenlet_waiting_for_one() -> None:
    free = GeventDeadlineQueue(1)
    with deadline.within(BOUND):
        waiter = gevent.spawn(free.get, True, 5)
        gevent.spawn(free.put_nowait, "returned")
        assert waiter.get(timeout=BOUND) == "returned"
    assert free.qsize() == 0
