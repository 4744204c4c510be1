"""Routing: each worker hears only the users it holds streams for (issue 16).

Every broker here is one worker's, on a Redis of the test's own, so that Redis's own count of
listeners (``PUBSUB NUMSUB``) is what these workers made it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis

from tests.support.servers import RedisServer
from tests.support.waiting import wait_until
from webapp.events.broker import BrokerUnavailable, CatchUp, Subscription
from webapp.events.redis_broker import CHANNEL, Frame, RedisBroker, connect
from webapp.events.redis_channels import UserChannels, channel_identity, user_channel
from webapp.events.types import Delivery, Event, Signal


@pytest.fixture
def workers(private_redis: RedisServer) -> Iterator[list[RedisBroker]]:
    """Four workers' brokers on one Redis, each with its subscription up."""
    brokers = [RedisBroker(connect(private_redis.url), private_redis.url) for _ in range(4)]
    for broker in brokers:
        wait_until(broker.live, 10, "the subscription")
    yield brokers
    for broker in brokers:
        broker.close()


def _listeners(url: str, channel: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return int(dict(client.pubsub_numsub(channel))[channel.encode()])
    finally:
        client.close()


def _settle(workers: list[RedisBroker]) -> list[int]:
    """Each worker's count of messages received, once everything published before is in:
    a frame on the shared channel reaches every worker after whatever Redis sent it earlier
    (one connection each, in order). The frame itself is not counted."""
    before = [w.received for w in workers]
    workers[0].announce(Frame.MEMBERSHIP, "CH-settle")
    wait_until(lambda: all(w.received > b for w, b in zip(workers, before, strict=True)), 10)
    return [w.received - n for w, n in zip(workers, _announced(workers), strict=True)]


def _announced(workers: list[RedisBroker]) -> list[int]:
    counts = [getattr(w, "_settles", 0) + 1 for w in workers]
    for w, n in zip(workers, counts, strict=True):
        w._settles = n  # type: ignore[attr-defined]
    return counts


def _delivery(sub: Subscription) -> Delivery:
    item = sub.get(timeout=5)
    assert isinstance(item, Delivery), item
    return item


def test_a_one_to_one_message_reaches_only_the_workers_holding_its_users(
    workers: list[RedisBroker],
) -> None:
    alice = workers[0].subscribe("alice")
    bob = workers[1].subscribe("bob")
    workers[2].subscribe("carol")
    start = _settle(workers)
    workers[3].publish(Event("message_added", {"n": 1}), ["alice", "bob"])
    assert _delivery(alice).event.data == {"n": 1}
    assert _delivery(bob).event.data == {"n": 1}
    after = _settle(workers)
    assert [a - s for a, s in zip(after, start, strict=True)] == [1, 1, 0, 0]


def test_one_worker_listening_hears_a_message_once(private_redis: RedisServer) -> None:
    broker = RedisBroker(connect(private_redis.url), private_redis.url)
    try:
        wait_until(broker.live, 10, "the subscription")
        alice, bob = broker.subscribe("alice"), broker.subscribe("bob")
        broker.publish(Event("message_added", {"n": 1}), ["alice", "bob"])
        assert _delivery(alice).id.seq == 1 and _delivery(bob).id.seq == 1
        assert _settle([broker]) == [1]
    finally:
        broker.close()


def test_a_group_larger_than_the_workers_is_one_message_to_each(
    workers: list[RedisBroker],
) -> None:
    members = [f"member{n}" for n in range(6)]
    subs = [workers[n % 2].subscribe(member) for n, member in enumerate(members)]
    start = _settle(workers)
    workers[2].publish(Event("message_added", {"n": 1}), members)
    for sub in subs:
        assert _delivery(sub).event.data == {"n": 1}
    after = _settle(workers)
    assert [a - s for a, s in zip(after, start, strict=True)] == [1, 1, 1, 1]


def test_signals_and_closing_streams_reach_only_the_users_workers(
    workers: list[RedisBroker],
) -> None:
    alice = workers[0].subscribe("alice")
    alice.signals = True
    start = _settle(workers)
    workers[1].signal(Event("typing", {"who": "bob"}), ["alice"])
    item = alice.get(timeout=5)
    assert isinstance(item, Signal)
    workers[1].close_user_streams("alice")
    wait_until(lambda: alice.closed, 5, "alice's stream closed")
    after = _settle(workers)
    assert [a - s for a, s in zip(after, start, strict=True)] == [2, 0, 0, 0]


def test_subscribe_returns_once_redis_has_confirmed_the_users_channel(
    workers: list[RedisBroker],
) -> None:
    url = workers[0]._url
    assert _listeners(url, user_channel("dora")) == 0
    dora = workers[0].subscribe("dora")
    assert _listeners(url, user_channel("dora")) == 1  # no wait: confirmed before returning
    workers[1].publish(Event("message_added", {"n": 1}), ["dora"])
    assert _delivery(dora).event.data == {"n": 1}
    second = workers[0].subscribe("dora")  # the same worker: one subscription, two streams
    assert _listeners(url, user_channel("dora")) == 1
    assert workers[0].channels.snapshot() == [(user_channel("dora"), 2, True)]
    workers[0].unsubscribe(second)
    workers[0].unsubscribe(second)  # twice: counted once
    assert workers[0].channels.snapshot() == [(user_channel("dora"), 1, True)]


def test_the_last_stream_leaving_unsubscribes_after_a_grace(private_redis: RedisServer) -> None:
    broker = RedisBroker(connect(private_redis.url), private_redis.url, channel_grace=0.5)
    try:
        wait_until(broker.live, 10, "the subscription")
        channel = user_channel("erin")
        first = broker.subscribe("erin")
        broker.unsubscribe(first)  # a reload: the next stream comes within the grace
        again = broker.subscribe("erin")
        assert broker.channels.snapshot() == [(channel, 1, True)]
        broker.unsubscribe(again)
        wait_until(lambda: _listeners(private_redis.url, channel) == 0, 10, "the channel left")
        wait_until(lambda: len(broker.channels) == 0, 5, "the route forgotten")
        assert _listeners(private_redis.url, CHANNEL) == 1  # the shared channel stays
    finally:
        broker.close()


def test_a_lost_connection_resubscribes_and_the_streams_catch_up(
    private_redis: RedisServer,
) -> None:
    broker = RedisBroker(connect(private_redis.url), private_redis.url)
    publisher = RedisBroker(connect(private_redis.url), private_redis.url)
    try:
        wait_until(broker.live, 10, "the subscription")
        frank = broker.subscribe("frank")
        admin = redis.Redis.from_url(private_redis.url)
        admin.client_kill_filter(_type="pubsub")
        item = frank.get(timeout=10)
        assert isinstance(item, CatchUp), item  # told to read the log once resubscribed
        assert _listeners(private_redis.url, user_channel("frank")) == 1
        wait_until(publisher.live, 10, "the publisher's subscription")
        publisher.publish(Event("message_added", {"n": 1}), ["frank"])
        assert _delivery(frank).event.data == {"n": 1}
        admin.close()
    finally:
        broker.close()
        publisher.close()


def test_a_stream_opening_while_redis_is_unreachable_is_turned_away(
    private_redis: RedisServer,
) -> None:
    broker = RedisBroker(connect(private_redis.url), private_redis.url)
    try:
        wait_until(broker.live, 10, "the subscription")
        private_redis.stop()
        wait_until(lambda: not broker.live(), 10, "the loss noticed")
        wait_until(lambda: broker._down.is_set(), 10, "a failed reconnect")
        with pytest.raises(BrokerUnavailable):
            broker.subscribe("gina")
        assert len(broker.subscriptions) == 0 and len(broker.channels) == 0
    finally:
        broker.close()


class _Sent:
    """The commands a :class:`UserChannels` sends, recorded in order."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()

    def __call__(self, command: str, channels: list[str]) -> None:
        with self.lock:
            self.commands.append((command, list(channels)))

    def take(self) -> list[tuple[str, list[str]]]:
        with self.lock:
            taken, self.commands = self.commands, []
        return taken


def test_a_stream_returning_while_its_channel_is_being_left_gets_it_back() -> None:
    caught_up: list[str] = []
    channels = UserChannels(caught_up.append, grace=5)
    sent = _Sent()
    channels.attach(sent)
    channel = user_channel("hana")
    ready = channels.acquire(user_channel("hana"))
    assert sent.take() == [("SUBSCRIBE", [channel])] and not ready.is_set()
    channels.confirmed(channel)
    assert ready.is_set()
    channels.release(user_channel("hana"))
    channels.sweep(now=1e12)  # long after the grace
    assert sent.take() == [("UNSUBSCRIBE", [channel])] and not ready.is_set()
    back = channels.acquire(user_channel("hana"))  # the UNSUBSCRIBE is on its way: wait for it
    assert sent.take() == [] and not back.is_set()
    channels.unsubscribed(channel)
    assert sent.take() == [("SUBSCRIBE", [channel])]
    channels.confirmed(channel)
    assert back.is_set() and caught_up == []


def test_a_reconnect_subscribes_what_streams_need_and_drops_what_they_do_not() -> None:
    caught_up: list[str] = []
    channels = UserChannels(caught_up.append, grace=5)
    first = _Sent()
    channels.attach(first)
    for who in ("ida", "jon"):
        channels.acquire(user_channel(who))
        channels.confirmed(user_channel(who))
    channels.release(user_channel("jon"))  # within its grace when the connection goes
    channels.detach()
    second = _Sent()
    channels.attach(second)
    assert second.take() == [("SUBSCRIBE", [user_channel("ida")])]
    channels.confirmed(user_channel("ida"))
    assert caught_up == [user_channel("ida")]
    assert channel_identity(user_channel("a b {c}")) == "a b {c}"
    assert channel_identity(CHANNEL) is None


def test_a_channel_whose_slot_moved_waits_unsubscribed_until_a_node_takes_it() -> None:
    """Cluster: a channel away from its old node is subscribed nowhere (not here again, not on
    a reconnect) until it is taken for its new node, where its streams catch up."""
    caught_up: list[str] = []
    old = UserChannels(caught_up.append, grace=5, batch_of=len)
    sent = _Sent()
    old.attach(sent)
    kay, lea = user_channel("kay"), user_channel("lea")
    ready = old.acquire(kay)
    old.acquire(lea)
    old.confirmed(kay)
    old.confirmed(lea)
    sent.take()
    assert old.in_batch(len(kay)) == [kay, lea] and old.in_batch(0) == []
    old.away(kay)
    assert not ready.is_set() and old.away_channels() == [kay]
    old.acquire(kay)  # another stream of kay's opens meanwhile
    old.detach()
    old.attach(sent)
    assert sent.take() == [("SUBSCRIBE", [lea])]
    new = UserChannels(caught_up.append, grace=5)
    new.attach(sent)
    for channel, route in old.take(kay):
        new.adopt(channel, route)
    assert sent.take() == [("SUBSCRIBE", [kay])] and old.away_channels() == []
    new.confirmed(kay)
    assert ready.is_set() and caught_up == [kay]
    assert new.snapshot() == [(kay, 2, True)]
