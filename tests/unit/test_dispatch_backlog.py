"""The listener's backlog: busy while it dispatches messages it has received, idle once it has
dispatched them all (the stream writer waits for that), on one Redis and on the cluster."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.waiting import wait_until
from tests.unit.conftest import ON_REDIS_AND_CLUSTER, live_redis_broker
from webapp.events.broker import Backlog
from webapp.events.redis_broker import Frame, RedisBroker
from webapp.events.redis_channels import user_channel
from webapp.events.types import Delivery, Event


@pytest.fixture(params=ON_REDIS_AND_CLUSTER)
def broker(request: pytest.FixtureRequest) -> Iterator[RedisBroker]:
    made = live_redis_broker(request, request.param)
    yield made
    made.close()


def test_the_backlog_is_busy_while_a_message_is_dispatched_and_idle_after(
    broker: RedisBroker,
) -> None:
    seen: list[bool] = []
    broker.bus(Frame.MEMBERSHIP).on_message(
        lambda payload: payload is not None and seen.append(broker.backlog.pending)
    )
    broker.announce(Frame.MEMBERSHIP, "CH1")
    wait_until(lambda: seen, 10, "the frame")
    assert seen == [True]  # the writer would have waited for it
    wait_until(lambda: not broker.backlog.pending, 10, "the listener going idle")


def test_large_messages_arriving_in_pieces_are_all_dispatched_on_one_connection(
    broker: RedisBroker,
) -> None:
    """A message larger than a socket read is received in pieces: the listener's look at
    what has arrived must not take a half for a whole, nor give up on the rest."""
    sub = broker.subscribe("u0")
    reconnects: list[int] = []
    broker.on_reconnect(lambda: reconnects.append(1))
    big = Event("message_added", {"body": "x" * 300_000}).to_json()
    others = "\n".join(f"someone{k} e1-1.t" for k in range(2000))
    for seq in range(1, 6):
        broker._publish_frame(user_channel("u0"), f"{Frame.EVENT}\n{big}\n{others}\nu0 e1-{seq}.t")
    got: list[int] = []
    while len(got) < 5:
        item = sub.get(timeout=10)
        assert isinstance(item, Delivery), f"after {got}: {item!r}"
        assert json.loads(item.event_json)["data"]["body"] == "x" * 300_000
        got.append(item.id.seq)
    assert got == list(range(1, 6))
    assert reconnects == [] and broker.live()
    wait_until(lambda: not broker.backlog.pending, 10, "the listener going idle")


def test_the_backlog_is_idle_only_when_no_listener_is_busy() -> None:
    backlog = Backlog()
    woken: list[int] = []
    backlog.on_idle(lambda: woken.append(1))
    one, two = object(), object()
    assert not backlog.pending
    backlog.busy(one)
    backlog.busy(two)
    backlog.idle(one)
    assert backlog.pending and woken == []
    backlog.idle(two)
    assert not backlog.pending and woken == [1]
    backlog.idle(two)  # a listener lost while idle, or one more quiet loop: no news
    assert not backlog.pending and woken == [1]
