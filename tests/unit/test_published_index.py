"""Both stores of marks keep one contract: the mark moves only over publishes the broker
confirms, a catch-up moves it on, and one reconcile of a conversation serves every process."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from tests.support.cluster import RedisCluster
from tests.support.servers import RedisServer
from tests.support.waiting import wait_until
from webapp.events.broker import Broker, BrokerUnavailable
from webapp.events.memory_broker import MemoryBroker
from webapp.events.published_index import (
    IN_FLIGHT_SECONDS,
    MemoryPublishedIndex,
    PublishedIndex,
    RedisPublishedIndex,
)
from webapp.events.redis_broker import RedisBroker, connect, once_redis_key
from webapp.events.redis_cluster import connect_cluster
from webapp.events.redis_cluster_broker import ClusterBroker
from webapp.events.types import Event

MarksFor = Callable[..., PublishedIndex]


@pytest.fixture
def marks_for(broker: Broker, request: pytest.FixtureRequest) -> MarksFor:
    """Makes marks beside ``broker``'s de-duplication keys, as ``create_app`` pairs them."""

    def make(in_flight: float = IN_FLIGHT_SECONDS) -> PublishedIndex:
        if isinstance(broker, ClusterBroker):
            cluster: RedisCluster = request.getfixturevalue("redis_cluster")
            client = connect_cluster(cluster.url)
            return RedisPublishedIndex(client, once_redis_key, in_flight=in_flight, cluster=True)  # type: ignore[arg-type]
        if isinstance(broker, RedisBroker):
            server: RedisServer = request.getfixturevalue("redis_server")
            return RedisPublishedIndex(connect(server.url), once_redis_key, in_flight=in_flight)
        assert isinstance(broker, MemoryBroker)
        return MemoryPublishedIndex(broker.published, in_flight=in_flight)

    return make


@pytest.fixture
def marks(marks_for: MarksFor) -> PublishedIndex:
    return marks_for()


def _sid() -> str:
    return "CH" + uuid.uuid4().hex


def _publish(broker: Broker, once: str) -> None:
    if isinstance(broker, ClusterBroker):
        pytest.skip(
            "on a cluster only a publish in order confirms a mark (its conversation's slot): "
            "test_broker_contract's in-order tests cover it there"
        )
    assert broker.publish(Event("message_added", {}), [], once=once)


def test_a_new_conversation_starts_at_the_first_webhook(marks: PublishedIndex) -> None:
    sid = _sid()
    assert marks.note(sid, 7, f"{sid}:7", touch=True) == (6, 6)  # nothing before it to catch up


def test_the_mark_moves_only_over_confirmed_publishes(broker: Broker, marks_for: MarksFor) -> None:
    marks = marks_for(in_flight=0)  # no webhook is still being handled
    sid = _sid()
    key = f"once-{uuid.uuid4().hex}"
    assert marks.note(sid, 0, f"{key}:0", touch=True).published == -1
    _publish(broker, f"{key}:0")
    assert marks.note(sid, 1, f"{key}:1", touch=True) == (0, 0)  # 0 was published: no gap
    # 1's publish failed (503, and Twilio gave up): 2 sees the gap before it.
    assert marks.note(sid, 2, f"{key}:2", touch=True) == (0, 0)
    assert marks.note(sid, 2, f"{key}:2", touch=True) == (0, 0)  # and so does 2's retry
    marks.advance(sid, 1)  # a catch-up published 1
    _publish(broker, f"{key}:2")
    assert marks.note(sid, 3, f"{key}:3", touch=True) == (2, 2)
    marks.advance(sid, 0)  # never back
    assert marks.note(sid, 3, None, touch=False).published == 2


def test_a_message_whose_webhook_is_being_handled_is_heard_not_published(
    marks: PublishedIndex,
) -> None:
    sid = _sid()
    marks.note(sid, 0, f"{sid}:0", touch=True)
    # 1's webhook overtakes 0's, which is still publishing: not a gap, nothing to fetch.
    assert marks.note(sid, 1, f"{sid}:1", touch=True) == (-1, 0)
    assert marks.note(sid, 3, f"{sid}:3", touch=True) == (-1, 1)  # 2 was never heard of


def test_recent_lists_conversations_with_webhooks_latest_first(marks: PublishedIndex) -> None:
    first, second, checked = _sid(), _sid(), _sid()
    marks.note(first, 0, "a", touch=True)
    # Activity is ranked by the millisecond: two notes within one tie (in no useful order).
    noted = marks.now()
    wait_until(lambda: marks.now() >= noted + 0.002, what="the clock to move on")
    marks.note(second, 0, "b", touch=True)
    marks.note(checked, 0, None, touch=False)  # a reconcile's look is not activity
    recent = marks.recent()
    assert recent.index(second) < recent.index(first)
    assert checked not in recent
    marks.forget(first)
    assert first not in marks.recent()


def test_a_conversation_is_checked_once_per_sweep_whichever_process_sweeps(
    marks: PublishedIndex,
) -> None:
    sid = _sid()
    sweep = marks.now()
    assert marks.claim(sid, sweep)
    assert not marks.claim(sid, sweep)  # another worker, same sweep: already done
    later = marks.now() + 0.01
    assert marks.claim(sid, later)  # a sweep that began afterwards checks again


def test_redis_down_is_reported_as_the_broker_reports_it() -> None:
    """The catch-up and the webhook handle one error whatever store they asked."""
    marks = RedisPublishedIndex(connect("redis://127.0.0.1:1/0"), once_redis_key)
    for call in (
        lambda: marks.note(_sid(), 3, "a", touch=True),
        lambda: marks.advance(_sid(), 3),
        marks.recent,
        lambda: marks.forget(_sid()),
        marks.now,
        lambda: marks.claim(_sid(), 0.0),
    ):
        with pytest.raises(BrokerUnavailable):
            call()
