"""The local Redis Cluster the cluster tests run on: it starts whole, a primary's death
promotes its replica, and slots move with their keys, as on a production cluster."""

from __future__ import annotations

import redis

from tests.support.cluster import RedisCluster


def test_the_cluster_serves_every_slot_from_three_primaries(redis_cluster: RedisCluster) -> None:
    assert len(redis_cluster.nodes) == 6
    assert len(redis_cluster.primaries()) == 3
    assert redis_cluster.healthy()
    client = redis_cluster.client()
    try:
        for name in ("a", "b", "c", "d", "e", "f"):
            client.set(f"harness:{name}", name)
        owners = {redis_cluster.slot_owner(client.keyslot(f"harness:{n}")) for n in "abcdef"}
        assert len(owners) > 1  # the keys really are spread over primaries
        assert client.get("harness:e") == b"e"
    finally:
        client.delete(*(f"harness:{n}" for n in "abcdef"))
        client.close()


def test_a_killed_primary_is_replaced_by_its_replica_with_its_keys(
    own_redis_cluster: RedisCluster,
) -> None:
    cluster = own_redis_cluster
    client = cluster.client()
    slot = client.keyslot("harness:kept")
    client.set("harness:kept", "yes")
    with redis.Redis(port=cluster.slot_owner(slot)) as owner:
        assert owner.execute_command("WAIT", 1, 5000) == 1  # the replica has it
    dead = cluster.kill_primary(slot)
    assert cluster.slot_owner(slot) != dead
    assert len(cluster.primaries()) == 3
    client.close()
    fresh = cluster.client()
    assert fresh.get("harness:kept") == b"yes"
    fresh.close()


def test_slots_move_with_their_keys(own_redis_cluster: RedisCluster) -> None:
    cluster = own_redis_cluster
    client = cluster.client()
    slot = client.keyslot("harness:moved")
    client.set("harness:moved", "along")
    before = cluster.slot_owner(slot)
    after = cluster.move_slots([slot])
    assert after != before and cluster.slot_owner(slot) == after
    assert client.get("harness:moved") == b"along"  # redis-py follows the MOVED reply
    target = cluster.reshard(100)
    assert cluster.healthy() and target in cluster.primaries()
    assert client.get("harness:moved") == b"along"
    client.close()
