"""Heartbeats come from one ticker per process: an idle stream waits with no timer of its own."""

from __future__ import annotations

import threading
import time

from webapp.events.broker import Subscription
from webapp.events.types import Delivery, EventId
from webapp.ops.metrics import Metrics
from webapp.stream.heartbeat import HeartbeatTicker


def _delivery(seq: int) -> Delivery:
    return Delivery(EventId("e1", seq), '{"type":"message_added","data":{}}')


def test_a_beat_wakes_a_waiting_stream_with_nothing_to_write() -> None:
    sub = Subscription("alice")
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.append(sub.get_all(timeout=None)))
    reader.start()
    sub.beat()
    reader.join(5)
    assert not reader.is_alive() and got == [[]]
    assert not sub.closed  # a heartbeat, not an end: the stream writes its comment and waits


def test_a_beat_that_finds_events_queued_delivers_them_and_is_spent() -> None:
    sub = Subscription("alice")
    sub.offer(_delivery(1))
    sub.beat()
    assert sub.get_all(timeout=None) == [_delivery(1)]
    assert sub.get_all(timeout=0.05) == []  # the beat was spent by the write above


def test_each_stream_gets_one_beat_per_period_in_groups_and_closed_ones_none() -> None:
    ticker = HeartbeatTicker(Metrics(), interval=3600, slots=3)  # never ticks by itself here
    subs = [Subscription(f"user{n}") for n in range(7)]
    for sub in subs:
        ticker.add(sub)
    ticker.discard(subs[6])
    assert len(ticker) == 6
    woken: list[list[str]] = []
    for _ in range(3):  # one period: each tick wakes one group of streams, not all of them
        ticker.tick()
        woken.append([sub.identity for sub in subs if sub._beat])
        for sub in subs:
            sub._beat = False
    assert [len(group) for group in woken] == [2, 2, 2]
    assert sorted(sum(woken, [])) == [f"user{n}" for n in range(6)]  # user6 was discarded


def test_the_ticker_thread_keeps_beating() -> None:
    ticker = HeartbeatTicker(Metrics(), interval=0.05)
    sub = Subscription("alice")
    ticker.add(sub)
    started = time.monotonic()
    for _ in range(3):  # each wait ends by a beat, long before its own deadline
        assert sub.get_all(timeout=5) == []
    assert time.monotonic() - started < 4
    ticker.discard(sub)


def test_a_stream_whose_session_expired_is_ended_instead_of_beaten() -> None:
    ticker = HeartbeatTicker(Metrics(), interval=3600, slots=1)
    expired, alive = Subscription("alice"), Subscription("bob")
    expired.expires = time.monotonic() - 1
    alive.expires = time.monotonic() + 3600
    ticker.add(expired)
    ticker.add(alive)
    ticker.tick()
    assert expired.closed and not expired._beat
    assert alive._beat and not alive.closed
