"""Parley's client on a real Redis Cluster (``REDIS_CLUSTER=1``): it finds every node from
one, its pools are bounded per node, and a request's deadline holds as on one Redis."""

from __future__ import annotations

import threading

import pytest
import redis

from tests.support.cluster import RedisCluster
from webapp import deadline
from webapp.events.redis_broker import connect
from webapp.events.redis_cluster import connect_cluster, is_cluster
from webapp.events.redis_deadline import DeadlineConnection


def test_one_node_is_enough_to_reach_every_slot(redis_cluster: RedisCluster) -> None:
    client = connect_cluster(redis_cluster.url)
    try:
        assert is_cluster(client)
        keys = [f"client:{n}" for n in range(20)]
        for key in keys:
            client.set(key, key)
        assert {redis_cluster.slot_owner(client.keyslot(k)) for k in keys} == set(
            redis_cluster.primaries()
        )
        assert [client.get(k) for k in keys] == [k.encode() for k in keys]
        client.delete(*keys)
    finally:
        client.close()


def test_each_node_has_a_small_blocking_pool_that_keeps_the_deadline(
    redis_cluster: RedisCluster,
) -> None:
    client = connect_cluster(redis_cluster.url, max_connections=2)
    try:
        client.ping()
        nodes = client.get_primaries()
        assert len(nodes) == 3
        for node in nodes:
            pool = node.redis_connection.connection_pool  # type: ignore[union-attr]
            assert isinstance(pool, redis.BlockingConnectionPool)
            assert pool.max_connections == 2
            assert pool.connection_class is DeadlineConnection
        with deadline.within(-1.0):  # a deadline already past
            with pytest.raises(deadline.DeadlineExceeded):
                client.get("client:late")
    finally:
        client.close()


def test_the_single_redis_client_is_not_a_cluster(redis_server) -> None:  # type: ignore[no-untyped-def]
    assert not is_cluster(connect(redis_server.url))


def test_pipelines_across_nodes_at_once_never_wait_on_each_other(
    redis_cluster: RedisCluster,
) -> None:
    """Each pipeline holds a connection of every node it touches, taken in the order of its
    commands: two of them taking the same nodes in opposite orders, with every pool's
    connections held, would each wait on the other until the pool's timeout."""
    client = connect_cluster(redis_cluster.url, max_connections=2)
    keys_by_node: dict[str, str] = {}
    for n in range(200):
        key = f"pipe:{n}"
        keys_by_node.setdefault(redis_cluster.slot_owner(client.keyslot(key)), key)
    nodes = sorted(keys_by_node)
    assert len(nodes) == 3
    errors: list[BaseException] = []
    done: list[int] = []

    def run(worker: int) -> None:
        order = nodes[worker % 3 :] + nodes[: worker % 3]
        if worker % 2:
            order.reverse()
        try:
            for _ in range(30):
                pipe = client.pipeline(transaction=False)
                for node in order:
                    pipe.incr(keys_by_node[node])
                pipe.execute()
            done.append(worker)
        except BaseException as exc:  # noqa: BLE001  # any failure is the test's answer
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(12)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors[:3]
        assert sorted(done) == list(range(12))
        assert sum(int(client.get(k) or 0) for k in keys_by_node.values()) == 12 * 30 * 3
    finally:
        client.delete(*keys_by_node.values())
        client.close()
