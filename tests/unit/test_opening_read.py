"""A stream's opening reads the user's log (cursor, resumability, the replay's first page and
the texts it points at) and records their presence in one Redis round trip on one Redis, and
keeps the resume contract exactly: the same replays and resyncs on one Redis, on a cluster
(where presence is another slot's round trip) and in memory."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.cluster import RedisCluster
from tests.support.servers import RedisServer
from tests.support.waiting import wait_until
from tests.unit.conftest import ON_REDIS_AND_CLUSTER
from webapp.events.broker import Broker
from webapp.events.memory_broker import MemoryBroker
from webapp.events.redis_broker import REPLAY_PAGE, RedisBroker, ReplayBroken, connect
from webapp.events.redis_cluster import connect_cluster
from webapp.events.redis_cluster_broker import ClusterBroker
from webapp.events.types import Event, EventId
from webapp.people.presence import MemoryPresence, Presence, RedisPresence


@pytest.fixture(params=["memory", *ON_REDIS_AND_CLUSTER])
def site(request: pytest.FixtureRequest) -> Iterator[tuple[Broker, Presence]]:
    """A broker and the presence beside it, on the same store (logs of 1,000 events)."""
    if request.param == "memory":
        yield MemoryBroker(), MemoryPresence()
        return
    broker: RedisBroker
    if request.param == "cluster":
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        client: Any = connect_cluster(cluster.url)
        broker = ClusterBroker(client, cluster.url)
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        client = connect(server.url)
        client.flushdb()
        broker = RedisBroker(client, server.url)
    wait_until(broker.live, 10, "the shared channel's subscription")
    yield broker, RedisPresence(client)
    broker.close()


def _user() -> str:
    return f"o{uuid.uuid4().hex[:8]}"


def test_an_opening_replays_and_records_presence_together(
    site: tuple[Broker, Presence],
) -> None:
    broker, presence = site
    alice, came = _user(), []
    cursor = broker.cursor(alice)
    for n in range(3):
        broker.publish(Event("message_added", {"n": n}), [alice])
    replay = broker.replay(alice, cursor, presence.connecting(alice, lambda: came.append(1)))
    assert not replay.resync and replay.cursor.seq == cursor.seq + 3
    assert [d.event.data["n"] for d in replay.events] == [0, 1, 2]
    assert came == [1] and presence.online([alice]) == {alice}
    # A second stream of hers here: nothing to send, nobody told again.
    assert presence.connecting(alice, lambda: came.append(2)) is None
    assert not broker.replay(alice, replay.cursor, None).resync and came == [1]


def test_the_folded_read_resyncs_exactly_where_the_contract_says(
    site: tuple[Broker, Presence],
) -> None:
    broker, presence = site
    bob = _user()
    empty = broker.cursor(bob)
    assert broker.replay(bob, None, presence.connecting(bob, lambda: None)).resync
    for n in range(4):
        broker.publish(Event("message_added", {"n": n}), [bob])
    current = broker.cursor(bob)
    resumable = [
        (empty, [0, 1, 2, 3]),  # nothing seen yet, nothing trimmed
        (current, []),  # up to date
    ]
    for after, expected in resumable:
        replay = broker.replay(bob, after)
        assert not replay.resync, after
        assert [d.event.data["n"] for d in replay.events] == expected
    from_two = list(broker.replay(bob, empty).events)[1].id
    assert [d.event.data["n"] for d in broker.replay(bob, from_two).events] == [2, 3]
    for after in (
        None,
        EventId("deadbeef", 2, from_two.tag),  # another epoch
        EventId(current.epoch, current.seq + 1, current.tag),  # ahead of the log
        EventId(current.epoch, 2, "zzzzzz"),  # seq 2 names another event now
        EventId(current.epoch, current.seq, "zzzzzz"),
        EventId(current.epoch, 2, ""),  # an untagged id: only an untagged entry matches
    ):
        replay = broker.replay(bob, after)
        assert replay.resync and list(replay.events) == [] and replay.cursor == current, after


def test_a_long_replay_of_group_events_goes_on_page_after_page(
    site: tuple[Broker, Presence],
) -> None:
    """The script's first page and the later ones read alike, texts stored once included."""
    broker, _ = site
    group = [_user() for _ in range(3)]
    cursor = broker.cursor(group[0])
    total = REPLAY_PAGE + 50
    for n in range(total):
        broker.publish(Event("message_added", {"n": n, "text": "x" * 40}), group)
    replayed = list(broker.replay(group[0], cursor).events)
    assert [d.event.data["n"] for d in replayed] == list(range(total))
    assert [d.id.seq for d in replayed] == list(range(cursor.seq + 1, cursor.seq + total + 1))


@pytest.mark.parametrize("where", ON_REDIS_AND_CLUSTER)
def test_a_text_gone_from_the_first_page_breaks_the_replay_whole(
    where: str, request: pytest.FixtureRequest
) -> None:
    if where == "cluster":
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        client: Any = connect_cluster(cluster.url)
        broker: RedisBroker = ClusterBroker(client, cluster.url)
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        client = connect(server.url)
        broker = RedisBroker(client, server.url)
    try:
        group = [_user() for _ in range(3)]
        cursor = broker.cursor(group[0])
        broker.publish(Event("message_added", {"n": 0}), group)
        broker.publish(Event("message_added", {"n": 1}), group)
        entries = client.xrange(f"parley:u:{{{group[0]}}}:events")
        client.delete(entries[-1][1][b"r"])
        with pytest.raises(ReplayBroken):
            list(broker.replay(group[0], cursor).events)
    finally:
        broker.close()


def test_on_one_redis_the_opening_is_one_round_trip(redis_server: RedisServer) -> None:
    """The log's cursor, the resume check, the first page, its stored texts and the presence
    entry: one connection taken from the pool, once; also after Redis forgot its scripts."""
    client = connect(redis_server.url)
    broker = RedisBroker(client, redis_server.url)
    presence = RedisPresence(client)
    pool: Any = client.connection_pool
    taken = []
    get_connection = pool.get_connection

    def counting(*args: Any, **kwargs: Any) -> Any:
        taken.append(1)
        return get_connection(*args, **kwargs)

    try:
        group = [_user() for _ in range(3)]
        cursor = broker.cursor(group[0])
        broker.publish(Event("message_added", {"n": 0}), group)  # its text stored once
        broker.publish(Event("message_added", {"n": 1}), group[:1])
        came: list[str] = []
        for flushed in (False, True):
            if flushed:
                client.script_flush()
            came.clear()
            pool.get_connection = counting
            taken.clear()
            errand = presence.connecting(group[0], lambda: came.append("came"))
            replay = broker.replay(group[0], cursor, errand)
            events = [d.event.data["n"] for d in replay.events]
            pool.get_connection = get_connection
            assert events == [0, 1] and came == ["came"]
            # The lot; or the lot, each script loaded, the lot again.
            assert len(taken) == (4 if flushed else 1)
            presence.abandoned(group[0])  # as a failed opening: counted off here
            client.delete(presence.keys.user(group[0]), presence.keys.all)
    finally:
        pool.get_connection = get_connection
        broker.close()
