"""The broker on a real Redis Cluster: routing, a slot moved and a primary killed under
open streams (issue 16). Nothing is delivered twice or silently skipped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from redis.crc import key_slot

from tests.support.cluster import RedisCluster
from tests.support.waiting import wait_until
from webapp.events.broker import BrokerUnavailable, CatchUp, Subscription
from webapp.events.redis_broker import CHANNEL
from webapp.events.redis_channels import user_channel
from webapp.events.redis_cluster import connect_cluster
from webapp.events.redis_cluster_broker import ClusterBroker
from webapp.events.types import Delivery, Event, EventId

pytestmark = pytest.mark.cluster


def _broker(cluster: RedisCluster, **options: float) -> ClusterBroker:
    broker = ClusterBroker(connect_cluster(cluster.url), cluster.url, **options)  # type: ignore[arg-type]
    wait_until(broker.live, 10, "the shared channel's subscription")
    return broker


@pytest.fixture
def workers(redis_cluster: RedisCluster) -> Iterator[list[ClusterBroker]]:
    redis_cluster.flush()
    brokers = [_broker(redis_cluster) for _ in range(4)]
    yield brokers
    for broker in brokers:
        broker.close()


def _listeners(cluster: RedisCluster, channel: str) -> int:
    """Subscribers of a shard channel, from the node that serves its slot."""
    port = cluster.slot_owner(key_slot(channel.encode()))
    client = redis.Redis(port=port)
    try:
        answer = client.execute_command("PUBSUB", "SHARDNUMSUB", channel)
        return int(answer[1])
    finally:
        client.close()


def _channels(broker: ClusterBroker) -> set[str]:
    return {c for shard in list(broker._shards.values()) for c, _, _ in shard.channels.snapshot()}


class Reader:
    """What a stream shows of its subscription, as the outbox does: ids forward only, a
    catch-up read from the log after its position."""

    def __init__(self, broker: ClusterBroker, sub: Subscription) -> None:
        self.broker, self.sub = broker, sub
        self.last = broker.cursor(sub.identity)
        self.shown: list[int] = []
        self.catch_ups = 0

    def read(self, timeout: float = 0.2) -> None:
        item = self.sub.get(timeout=timeout)
        if isinstance(item, CatchUp):
            self.catch_ups += 1
            replay = self.broker.replay(self.sub.identity, self.last)
            assert not replay.resync
            for delivery in replay.events:
                self._show(delivery.id)
        elif isinstance(item, Delivery):
            self._show(item.id)

    def _show(self, event_id: EventId) -> None:
        if event_id.seq > self.last.seq:
            self.shown.append(event_id.seq)
            self.last = event_id

    def until(self, seqs: list[int], timeout: float = 20) -> None:
        def done() -> bool:
            self.read()
            return self.shown == seqs

        wait_until(done, timeout, f"seqs {seqs} (shown {self.shown})")


def test_a_one_to_one_message_reaches_only_the_workers_holding_its_users(
    workers: list[ClusterBroker], redis_cluster: RedisCluster
) -> None:
    alice = workers[0].subscribe("alice")
    bob = workers[1].subscribe("bob")
    assert _listeners(redis_cluster, user_channel("alice")) == 1  # confirmed before returning
    assert _listeners(redis_cluster, user_channel("bob")) == 1
    workers[3].publish(Event("message_added", {"n": 1}), ["alice", "bob"], once="w1")
    for sub in (alice, bob):
        item = sub.get(timeout=5)
        assert isinstance(item, Delivery) and item.event.data == {"n": 1}
    assert workers[0].received == 1 and workers[1].received == 1
    for idle in workers[2:]:
        assert _channels(idle) == {CHANNEL} or _channels(idle) == set()
    assert not workers[3].publish(Event("message_added", {"n": 1}), ["alice", "bob"], once="w1")


def _getkeys_calls(cluster: RedisCluster) -> int:
    """``COMMAND GETKEYS`` calls over every live node (``INFO commandstats``)."""
    total = 0
    for node in cluster.live_nodes():
        stats = node.client().info("commandstats")
        total += int(stats.get("cmdstat_command|getkeys", {}).get("calls", 0))
    return total


def test_a_publish_asks_no_node_for_its_scripts_keys(
    workers: list[ClusterBroker], redis_cluster: RedisCluster
) -> None:
    """A script in redis-py's cluster pipeline costs a round trip to ask a node which keys it
    names, on a connection the pipeline holds meanwhile, unless its node is named."""
    users = [f"getkeys{n}" for n in range(12)]  # slots on every primary
    workers[0].publish(Event("message_added", {"n": 0}), users, once="warm")
    before = _getkeys_calls(redis_cluster)
    after = workers[1].cursor(users[0])
    for n in range(1, 6):
        assert workers[0].publish(Event("message_added", {"n": n}), users, once=f"k{n}")
    assert _getkeys_calls(redis_cluster) == before
    assert [d.event.data for d in workers[1].replay(users[0], after).events] == [
        {"n": n} for n in range(1, 6)
    ]


def test_signals_and_logout_reach_the_users_worker(workers: list[ClusterBroker]) -> None:
    carol = workers[0].subscribe("carol")
    carol.signals = True
    workers[2].signal(Event("typing", {"who": "dan"}), ["carol"])
    assert carol.get(timeout=5) is not None
    workers[2].close_user_streams("carol")
    wait_until(lambda: carol.closed, 5, "carol's stream closed")


def test_the_last_stream_leaving_unsubscribes_after_a_grace(redis_cluster: RedisCluster) -> None:
    broker = _broker(redis_cluster, channel_grace=0.3)
    try:
        sub = broker.subscribe("erin")
        assert _listeners(redis_cluster, user_channel("erin")) == 1
        broker.unsubscribe(sub)
        wait_until(
            lambda: _listeners(redis_cluster, user_channel("erin")) == 0, 10, "the channel left"
        )
        assert user_channel("erin") not in _channels(broker)
    finally:
        broker.close()


def test_a_slot_moved_under_open_streams_loses_and_doubles_nothing(
    own_redis_cluster: RedisCluster,
) -> None:
    listener, publisher = _broker(own_redis_cluster), _broker(own_redis_cluster)
    try:
        reader = Reader(listener, listener.subscribe("frank"))
        publisher.publish(Event("message_added", {"n": 1}), ["frank"])
        reader.until([1])
        slot = key_slot(user_channel("frank").encode())
        before = own_redis_cluster.slot_owner(slot)
        after = own_redis_cluster.move_slots([slot])
        assert after != before
        publisher.publish(Event("message_added", {"n": 2}), ["frank"])  # MOVED, retried
        reader.until([1, 2])
        wait_until(
            lambda: _listeners(own_redis_cluster, user_channel("frank")) == 1,
            20,
            "the channel subscribed on its new node",
        )
        publisher.publish(Event("message_added", {"n": 3}), ["frank"])
        reader.until([1, 2, 3])
    finally:
        listener.close()
        publisher.close()


def test_slots_moved_before_every_node_knows_it_lose_no_stream(
    own_redis_cluster: RedisCluster,
) -> None:
    """The node a worker asks for the map right after a move may not have heard of it yet
    (the cluster bus tells it a little later): the channel waits for the next sweep instead
    of being subscribed again where it was."""
    listener, publisher = _broker(own_redis_cluster), _broker(own_redis_cluster)
    users = [f"jon{n}" for n in range(4)]
    slots = [key_slot(user_channel(user).encode()) for user in users]
    assert len(set(slots)) == len(users)
    try:
        readers = {user: Reader(listener, listener.subscribe(user)) for user in users}
        for n, slot in enumerate(slots, start=1):
            own_redis_cluster.move_slots([slot], tell_others=False)
            publisher.publish(Event("message_added", {"n": n}), users)
            for reader in readers.values():
                reader.until(list(range(1, n + 1)))
        wait_until(
            lambda: all(_listeners(own_redis_cluster, user_channel(u)) == 1 for u in users),
            20,
            "every channel subscribed on its new node",
        )
        publisher.publish(Event("message_added", {"n": 5}), users)
        for reader in readers.values():
            reader.until([1, 2, 3, 4, 5])
    finally:
        listener.close()
        publisher.close()


def test_a_stream_opened_on_a_map_from_before_a_move_is_served_by_the_new_node(
    own_redis_cluster: RedisCluster,
) -> None:
    """A worker that has not heard of a move yet subscribes on the slot's old node, which
    answers MOVED: the channel goes to the new node, and the worker's other channels on the
    old node stay as they were."""
    listener, publisher = _broker(own_redis_cluster), _broker(own_redis_cluster)
    try:
        old = own_redis_cluster.slot_owner(key_slot(user_channel("hank").encode()))
        neighbour = next(  # another user whose channel the old node serves and keeps
            f"ivy{n}"
            for n in range(10_000)
            if own_redis_cluster.slot_owner(key_slot(user_channel(f"ivy{n}").encode())) == old
            and key_slot(user_channel(f"ivy{n}").encode())
            != key_slot(user_channel("hank").encode())
        )
        ivy = Reader(listener, listener.subscribe(neighbour))
        own_redis_cluster.move_slots([key_slot(user_channel("hank").encode())])
        hank = Reader(listener, listener.subscribe("hank"))  # its map still says: the old node
        assert _listeners(own_redis_cluster, user_channel("hank")) == 1
        publisher.publish(Event("message_added", {"n": 1}), ["hank", neighbour])
        hank.until([1])
        ivy.until([1])
        assert ivy.catch_ups == 0  # the old node's connection was never dropped
    finally:
        listener.close()
        publisher.close()


def test_a_primary_killed_under_open_streams_resumes_them_after_the_failover(
    own_redis_cluster: RedisCluster,
) -> None:
    listener, publisher = _broker(own_redis_cluster), _broker(own_redis_cluster)
    try:
        reader = Reader(listener, listener.subscribe("gina"))
        publisher.publish(Event("message_added", {"n": 1}), ["gina"])
        reader.until([1])
        slot = key_slot(user_channel("gina").encode())
        dead = own_redis_cluster.kill_primary(slot)
        assert own_redis_cluster.slot_owner(slot) != dead

        def published() -> bool:
            try:
                publisher.publish(Event("message_added", {"n": 2}), ["gina"], once="gina-2")
            except BrokerUnavailable:  # a webhook answers 503 meanwhile: Twilio retries
                return False
            return True

        wait_until(published, 30, "a publish after the failover")
        reader.until([1, 2], timeout=30)
        wait_until(
            lambda: _listeners(own_redis_cluster, user_channel("gina")) == 1,
            30,
            "the channel subscribed on the promoted replica",
        )
        publisher.publish(Event("message_added", {"n": 3}), ["gina"])
        reader.until([1, 2, 3])
        assert reader.catch_ups >= 1
    finally:
        listener.close()
        publisher.close()


def test_many_users_resubscribe_after_a_loss_and_leave_together(
    redis_cluster: RedisCluster,
) -> None:
    """One command may name channels of one slot only: a worker holding many users sends
    (S)SUBSCRIBE and SUNSUBSCRIBE per slot, on reconnecting and when they leave together."""
    broker = _broker(redis_cluster, channel_grace=0.2)
    reported: list[int] = []
    broker.report_received = reported.append
    try:
        users = [f"many{n}" for n in range(24)]
        subs = [broker.subscribe(user) for user in users]
        for port in redis_cluster.primaries():
            redis.Redis(port=port).client_kill_filter(_type="pubsub")
        for sub in subs:
            item = sub.get(timeout=20)
            assert isinstance(item, CatchUp), item  # each told to read its log, once back
        assert all(_listeners(redis_cluster, user_channel(user)) == 1 for user in users)
        broker.publish(Event("message_added", {"n": 1}), users)
        for sub in subs:
            assert isinstance(sub.get(timeout=5), Delivery)
        wait_until(lambda: sum(reported) >= len(users), 10, "the count reported")
        assert sum(reported) == len(users)  # each shard reports its own messages once
        for sub in subs:
            broker.unsubscribe(sub)
        wait_until(
            lambda: all(_listeners(redis_cluster, user_channel(u)) == 0 for u in users),
            10,
            "every channel left",
        )
    finally:
        broker.close()
