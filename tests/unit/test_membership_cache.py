"""Each process keeps the participant lists it read, and drops them whenever any process
learns of a change: against a real (private) Redis, with two brokers standing for two workers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict

import pytest

from tests.support.servers import RedisServer
from tests.support.waiting import wait_until
from webapp.events.redis_broker import Frame, RedisBroker, connect
from webapp.people.participants import RedisMembershipCache
from webapp.twilio_gateway import ParticipantRecord

SID = "CH00000000000000000000000000000001"


def _people(*names: str) -> list[ParticipantRecord]:
    return [ParticipantRecord(f"MB{n}", n, None, None) for n in names]


class Twilio:
    """What Twilio's participant list says now (the cache's ``fetch``)."""

    def __init__(self) -> None:
        self.members = _people("alice", "bob")
        self.fetches = 0

    def participants(self, conversation_sid: str) -> list[ParticipantRecord]:
        self.fetches += 1
        return list(self.members)


@pytest.fixture
def workers(private_redis: RedisServer) -> Iterator[tuple[Twilio, list[RedisMembershipCache]]]:
    twilio = Twilio()
    brokers, caches = [], []
    for _ in range(2):
        client = connect(private_redis.url)
        broker = RedisBroker(client, private_redis.url)
        wait_until(broker.live, 10, "the subscription")
        brokers.append(broker)
        caches.append(
            RedisMembershipCache(twilio.participants, client, bus=broker.bus(Frame.MEMBERSHIP))
        )
    yield twilio, caches
    for broker in brokers:
        broker.close()


def _names(records: list[ParticipantRecord]) -> list[str | None]:
    return [r.identity for r in records]


def test_a_change_forgotten_in_one_worker_is_dropped_in_every_worker(
    workers: tuple[Twilio, list[RedisMembershipCache]],
) -> None:
    twilio, (a, b) = workers
    assert _names(b.participants(SID)) == ["alice", "bob"]
    assert twilio.fetches == 1
    twilio.members = _people("alice", "bob", "carol")
    assert _names(b.participants(SID)) == ["alice", "bob"]  # B's own copy, no round trip
    a.forget(SID)  # e.g. the participant webhook, handled by the other worker
    wait_until(lambda: _names(b.participants(SID)) == ["alice", "bob", "carol"], 5, "B to drop")


def test_the_process_copy_serves_reads_until_a_change_is_announced(
    workers: tuple[Twilio, list[RedisMembershipCache]], private_redis: RedisServer
) -> None:
    twilio, (a, _b) = workers
    a.participants(SID)
    # Behind the cache's back (no announcement): the process copy still answers ...
    client = connect(private_redis.url)
    members = _people("alice", "zed")
    client.set(f"parley:members:{SID}", json.dumps([asdict(p) for p in members]))
    assert _names(a.participants(SID)) == ["alice", "bob"]
    # ... and its own forget drops it at once (no wait for the pub/sub echo).
    a.forget(SID)
    assert _names(a.participants(SID)) == ["alice", "bob"]  # fetched again from "Twilio"
    assert twilio.fetches == 2


def test_without_a_live_subscription_every_read_goes_to_redis(
    workers: tuple[Twilio, list[RedisMembershipCache]], private_redis: RedisServer
) -> None:
    twilio, (a, _b) = workers
    a.participants(SID)
    private_redis.stop()  # the subscription drops: changes could be missed from now on
    bus = a._bus
    assert bus is not None
    wait_until(lambda: not bus.live(), 10, "the subscription to notice")
    twilio.members = _people("carol")
    assert _names(a.participants(SID)) == ["carol"]  # Redis is gone: straight to Twilio
