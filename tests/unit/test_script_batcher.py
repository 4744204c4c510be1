"""Publishes made at once share round trips, each caller still gets its own answer, and
no failure leaves the batcher stuck (``webapp/events/redis_batch.py``), on a real Redis."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.support.servers import RedisServer
from tests.support.waiting import wait_until
from webapp import deadline
from webapp.events.broker import BrokerUnavailable
from webapp.events.redis_batch import ScriptBatcher
from webapp.events.redis_broker import RedisBroker, connect
from webapp.events.types import Event

# Echoes its argument after a pause (busy-waiting in Lua, so calls really overlap).
_SLOW_ECHO = """
local stop = tonumber(redis.call('TIME')[1]) * 1000000 + tonumber(redis.call('TIME')[2])
  + tonumber(ARGV[2])
while tonumber(redis.call('TIME')[1]) * 1000000 + tonumber(redis.call('TIME')[2]) < stop do
end
return ARGV[1]
"""


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = connect(redis_server.url)
    yield client
    client.close()


def _in_threads(count: int, work: object) -> list[object]:
    answers: list[object] = [None] * count

    def run(n: int) -> None:
        try:
            answers[n] = work(n)  # type: ignore[operator]
        except Exception as exc:  # noqa: BLE001 - the test looks at what each one got
            answers[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers


def test_calls_made_at_once_share_round_trips_and_each_gets_its_own_answer(
    client: redis.Redis,
) -> None:
    batcher = ScriptBatcher(client)
    echo = client.register_script(_SLOW_ECHO)
    answers = _in_threads(40, lambda n: batcher.call(echo, [f"answer {n}", 2000]))
    assert answers == [f"answer {n}".encode() for n in range(40)]
    assert batcher.calls == 40
    assert batcher.round_trips < 40  # those that came while one was out went together


def test_a_script_redis_lost_is_loaded_again_for_a_whole_batch(client: redis.Redis) -> None:
    batcher = ScriptBatcher(client)
    echo = client.register_script(_SLOW_ECHO)
    assert batcher.call(echo, ["before", 0]) == b"before"
    client.script_flush()
    answers = _in_threads(10, lambda n: batcher.call(echo, [f"after {n}", 1000]))
    assert answers == [f"after {n}".encode() for n in range(10)]


def test_an_error_in_one_call_is_that_callers_alone(client: redis.Redis) -> None:
    batcher = ScriptBatcher(client)
    echo = client.register_script(_SLOW_ECHO)
    answers = _in_threads(
        12, lambda n: batcher.call(echo, [f"fine {n}", "not a number" if n == 5 else 1000])
    )
    assert isinstance(answers[5], redis.ResponseError)
    assert [a for n, a in enumerate(answers) if n != 5] == [
        f"fine {n}".encode() for n in range(12) if n != 5
    ]


def test_callers_whose_deadline_passes_while_waiting_give_up_unsent_and_the_rest_go_on(
    client: redis.Redis,
) -> None:
    """A webhook waiting for its turn answers 503 at its deadline, whether it waits for a
    pooled connection (leading the next batch) or behind the call that does; neither is
    sent after giving up, and the batcher serves the next calls."""
    batcher = ScriptBatcher(client)
    echo = client.register_script(_SLOW_ECHO)
    assert batcher.call(echo, ["loaded", 0]) == b"loaded"
    pool = client.connection_pool
    busy = [pool.get_connection(), pool.get_connection()]  # other work holds both

    def leading() -> object:
        with deadline.within(0.8):
            return batcher.call(echo, ["leads, waits for a connection", 0])

    lead = _InThread(leading)
    wait_until(lambda: batcher.waiting == 1, timeout=5)
    started = time.monotonic()
    with deadline.within(0.3), pytest.raises(redis.ConnectionError, match="No connection"):
        batcher.call(echo, ["behind it", 0])
    assert time.monotonic() - started < 0.7
    got = lead.answer()
    assert isinstance(got, redis.ConnectionError) and "No connection" in str(got)
    for connection in busy:
        pool.release(connection)
    assert batcher.call(echo, ["next", 0]) == b"next"
    assert batcher.calls == 2 and batcher.waiting == 0  # those that gave up were never sent


class _InThread:
    def __init__(self, work: object) -> None:
        self._answer: object = None
        self._thread = threading.Thread(target=self._run, args=(work,))
        self._thread.start()

    def _run(self, work: object) -> None:
        try:
            self._answer = work()  # type: ignore[operator]
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            self._answer = exc

    def answer(self) -> object:
        self._thread.join(timeout=10)
        return self._answer


def test_redis_gone_fails_every_waiting_publish_and_later_ones_work_again(
    redis_server: RedisServer,
) -> None:
    """Each webhook answers 503 (Twilio retries), none is left waiting, and once Redis is
    back the next publish goes through."""
    client = connect(redis_server.url)
    broker = RedisBroker(client, redis_server.url)
    try:
        who = f"u{uuid.uuid4().hex[:8]}"
        assert broker.publish(Event("message_added", {"n": 0}), [who])
        killer = redis.Redis.from_url(redis_server.url)
        killer.client_kill_filter(_type="normal", skipme=True)  # every pooled connection
        answers = _in_threads(
            8, lambda n: broker.publish(Event("message_added", {"n": n}), [who, f"x{n}"])
        )
        assert all(a is True or isinstance(a, BrokerUnavailable) for a in answers)
        assert broker.publish(Event("message_added", {"n": 99}), [who])
        killer.close()
    finally:
        broker.close()
