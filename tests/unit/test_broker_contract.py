"""Both brokers keep the same contract: ordered per-user ids, replay, resync, fan-out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import RedisServer
from webapp.events.broker import Broker, Subscription
from webapp.events.memory_broker import MemoryBroker
from webapp.events.redis_broker import RedisBroker, connect
from webapp.events.types import Delivery, Event


@pytest.fixture(params=["memory", "redis"])
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    if request.param == "memory":
        yield MemoryBroker()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    client = connect(server.url)
    client.flushdb()
    redis_broker = RedisBroker(client, server.url, max_events=5)
    assert redis_broker.wait_connected(10)
    yield redis_broker
    redis_broker.close()


def _next(sub: Subscription) -> Delivery:
    item = sub.get(timeout=5)
    assert isinstance(item, Delivery), item
    return item


def test_each_recipient_gets_the_event_with_its_own_ordered_ids(broker: Broker) -> None:
    alice, bob = broker.subscribe("alice"), broker.subscribe("bob")
    start_a, start_b = broker.cursor("alice"), broker.cursor("bob")
    broker.publish(Event("message_added", {"n": 1}), ["alice", "bob"])
    broker.publish(Event("message_added", {"n": 2}), ["bob"])
    got_a = _next(alice)
    got_b1, got_b2 = _next(bob), _next(bob)
    assert got_a.event.data == {"n": 1}
    assert got_a.id.seq == start_a.seq + 1 and got_a.id.epoch == start_a.epoch
    assert [got_b1.id.seq, got_b2.id.seq] == [start_b.seq + 1, start_b.seq + 2]
    assert got_b2.event.data == {"n": 2}


def test_outsiders_get_nothing(broker: Broker) -> None:
    carol = broker.subscribe("carol")
    bob = broker.subscribe("bob")
    broker.publish(Event("message_added", {"secret": True}), ["alice", "bob"])
    _next(bob)  # delivered to bob, so carol's would have arrived by now too
    assert carol.get(timeout=0.2) is None


def test_replay_returns_exactly_what_was_missed(broker: Broker) -> None:
    cursor = broker.cursor("dave")
    for n in range(3):
        broker.publish(Event("message_added", {"n": n}), ["dave"])
    replay = broker.replay("dave", cursor)
    assert not replay.resync
    assert [d.event.data["n"] for d in replay.events] == [0, 1, 2]
    assert replay.cursor.seq == cursor.seq + 3
    nothing = broker.replay("dave", replay.cursor)
    assert not nothing.resync and list(nothing.events) == []


def test_cursor_from_another_epoch_or_none_means_resync(broker: Broker) -> None:
    broker.publish(Event("message_added", {}), ["erin"])
    current = broker.cursor("erin")
    for cursor in (None, type(current)("deadbeef", 1), type(current)(current.epoch, 999)):
        replay = broker.replay("erin", cursor)
        assert replay.resync and list(replay.events) == []
        assert replay.cursor == current


def test_gap_older_than_the_log_means_resync_not_partial_replay() -> None:
    broker = MemoryBroker()
    cursor = broker.cursor("frank")
    for n in range(1005):
        broker.publish(Event("message_added", {"n": n}), ["frank"])
    assert broker.replay("frank", cursor).resync


def test_redis_log_is_capped_and_a_trimmed_gap_resyncs(redis_server: RedisServer) -> None:
    client = connect(redis_server.url)
    broker = RedisBroker(client, redis_server.url, max_events=5)
    try:
        cursor = broker.cursor("gina")
        for n in range(8):
            broker.publish(Event("message_added", {"n": n}), ["gina"])
        assert broker.replay("gina", cursor).resync
        recent = type(cursor)(cursor.epoch, cursor.seq + 4)
        replay = broker.replay("gina", recent)
        assert not replay.resync
        assert [d.event.data["n"] for d in replay.events] == [4, 5, 6, 7]
    finally:
        broker.close()


def test_lost_redis_log_starts_a_new_epoch(redis_server: RedisServer) -> None:
    client = connect(redis_server.url)
    broker = RedisBroker(client, redis_server.url)
    try:
        broker.publish(Event("message_added", {}), ["hank"])
        before = broker.cursor("hank")
        client.flushdb()
        broker.publish(Event("message_added", {}), ["hank"])
        after = broker.cursor("hank")
        assert after.epoch != before.epoch and after.seq == 1
        assert broker.replay("hank", before).resync
    finally:
        broker.close()


def test_a_slow_stream_is_cut_off_instead_of_blocking_others(broker: Broker) -> None:
    slow = Subscription("ivan", maxsize=3)
    broker.subscriptions.add(slow)  # type: ignore[attr-defined]
    fast = broker.subscribe("ivan")
    for n in range(5):
        broker.publish(Event("message_added", {"n": n}), ["ivan"])
    assert [_next(fast).event.data["n"] for _ in range(5)] == [0, 1, 2, 3, 4]
    assert slow.overflowed and slow.closed


def test_closing_a_users_streams_wakes_them(broker: Broker) -> None:
    sub = broker.subscribe("judy")
    broker.close_user_streams("judy")
    assert sub.get(timeout=5) is None
    assert sub.closed
