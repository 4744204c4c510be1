"""Presence keeps one contract in memory and on real Redis: online while a stream is open
anywhere; with Redis, a crashed process's entries expire instead of keeping users online."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis

from tests.support.cluster import RedisCluster
from tests.support.servers import RedisServer
from tests.support.waiting import wait_until
from tests.unit.conftest import ON_REDIS_AND_CLUSTER, emptied_client
from webapp.events.redis_broker import connect
from webapp.events.redis_cluster import RedisClient, connect_cluster
from webapp.people.presence import (
    REFRESH_SLICE,
    MemoryPresence,
    Presence,
    RedisPresence,
)

Factory = Callable[[], Presence]


@pytest.fixture(params=["memory", *ON_REDIS_AND_CLUSTER])
def processes(request: pytest.FixtureRequest) -> Iterator[Factory]:
    """Makes "processes" sharing one presence: the same memory one, or each its own on Redis
    (one server, or the cluster)."""
    if request.param == "memory":
        shared = MemoryPresence()
        yield lambda: shared
        return
    client = emptied_client(request, request.param)
    yield lambda: RedisPresence(client)
    client.close()


def test_online_while_any_stream_is_open(processes: Factory) -> None:
    one, two = processes(), processes()
    assert one.online(["p-alice"]) == set()
    assert one.connected("p-alice") is True  # came online
    assert two.connected("p-alice") is False  # already online
    assert one.connected("p-alice") is False
    assert two.online(["p-alice", "p-bob"]) == {"p-alice"}
    assert one.disconnected("p-alice") is False
    assert one.disconnected("p-alice") is False  # one's last; two still holds one
    assert one.online(["p-alice"]) == {"p-alice"}
    assert two.disconnected("p-alice") is True  # the last stream anywhere
    assert one.online(["p-alice"]) == set()
    assert two.disconnected("p-alice") is False  # unbalanced close: no second "offline"


def test_a_crashed_process_does_not_keep_users_online(redis_client: RedisClient) -> None:
    client = redis_client
    crashed = RedisPresence(client, ttl=0.5)  # never refreshes, never says goodbye
    alive = RedisPresence(client)
    assert crashed.connected("p-carol") is True
    assert alive.connected("p-dave") is True
    assert alive.online(["p-carol", "p-dave"]) == {"p-carol", "p-dave"}
    wait_until(lambda: alive.online(["p-carol"]) == set(), 5, "the crashed entry to expire")
    assert alive.refresh() == ["p-carol"]  # reported offline once, by whoever sweeps first
    assert alive.refresh() == []
    assert alive.online(["p-dave"]) == {"p-dave"}


def test_refreshing_keeps_a_live_process_online_past_its_ttl(redis_client: RedisClient) -> None:
    client = redis_client
    short = RedisPresence(client, ttl=0.6)
    assert short.connected("p-erin")
    deadline_checks = 0

    def stayed_online_past_ttl() -> bool:
        nonlocal deadline_checks
        assert short.refresh() == []
        assert short.online(["p-erin"]) == {"p-erin"}
        deadline_checks += 1
        return deadline_checks >= 30  # ~1.5 s of 50 ms polls, well past the 0.6 s ttl

    wait_until(stayed_online_past_ttl, 10, "presence to outlive its ttl while refreshed")


def test_a_refresh_in_slices_keeps_every_local_user_online(redis_client: RedisClient) -> None:
    client = redis_client
    many = [f"p-user{n}" for n in range(REFRESH_SLICE * 2 + 7)]  # three slices
    process = RedisPresence(client, ttl=0.5)
    for identity in many:
        process.connected(identity)
    lasted = 0

    def everyone_stayed_online() -> bool:
        nonlocal lasted
        assert process.refresh() == []
        assert process.online(many) == set(many)
        lasted += 1
        return lasted >= 30  # ~1.5 s of 50 ms polls, well past the 0.5 s ttl

    wait_until(everyone_stayed_online, 20, "presence of every sliced user to outlive its ttl")


def test_redis_down_never_raises(redis_server: RedisServer) -> None:
    down = RedisPresence(connect("redis://127.0.0.1:1/0"))
    assert down.connected("p-fay") is False
    assert down.online(["p-fay"]) == set()
    assert down.refresh() == []
    assert down.disconnected("p-fay") is False


def test_on_a_cluster_every_presence_key_shares_one_slot(redis_cluster: RedisCluster) -> None:
    """A script's keys must share a slot on a cluster; on one Redis the names stay as
    deployed Parleys wrote them."""
    client = connect_cluster(redis_cluster.url)
    keys = RedisPresence(client).keys.with_users(["p-gus", "p-hal", "{p-odd}", ""])
    assert len({client.keyslot(key) for key in keys}) == 1
    client.close()
    single = RedisPresence(connect("redis://127.0.0.1:1/0")).keys
    assert single.with_users(["p-gus"]) == ["parley:presence:all", "parley:presence:u:{p-gus}"]


def test_presence_follows_its_slot_when_it_moves_and_survives_a_failover(
    own_redis_cluster: RedisCluster,
) -> None:
    """A reshard moves presence's one slot to another primary, then that primary dies: every
    call meanwhile answers (perhaps stale, never raising), and presence is right again once
    the replica has taken over."""
    client = connect_cluster(own_redis_cluster.url)
    process = RedisPresence(client)
    assert process.connected("p-ivy") is True
    slot = client.keyslot(process.keys.all)
    with redis.Redis(port=own_redis_cluster.slot_owner(slot)) as owner:
        assert owner.execute_command("WAIT", 1, 5000) == 1  # the replica has it
    own_redis_cluster.move_slots([slot])
    assert process.online(["p-ivy"]) == {"p-ivy"}  # redis-py followed the slot
    assert process.connected("p-jon") is True
    with redis.Redis(port=own_redis_cluster.slot_owner(slot)) as owner:
        assert owner.execute_command("WAIT", 1, 5000) == 1
    own_redis_cluster.kill_primary(slot)
    process.refresh()  # may fail inside redis-py while it relearns the map: never raises
    wait_until(
        lambda: process.online(["p-ivy", "p-jon"]) == {"p-ivy", "p-jon"},
        30,
        "presence to be read from the promoted replica",
    )
    assert process.disconnected("p-ivy") is True
    client.close()


def test_an_opening_that_fails_counts_no_stream(processes: Factory) -> None:
    """Its Redis round trip (the log's read, with the presence entry) failed: the opening is
    turned away, and the process keeps no stream of the user to refresh."""
    process = processes()
    process.connecting("p-kim", lambda: None)  # its errand never reached Redis
    process.abandoned("p-kim")
    process.refresh()
    assert process.online(["p-kim"]) == set()
