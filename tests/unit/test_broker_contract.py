"""Both brokers keep the same contract: ordered per-user ids, replay, resync, fan-out."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.support.servers import RedisServer
from tests.support.waiting import wait_until
from webapp.events.broker import (
    Broker,
    BrokerBusy,
    BrokerUnavailable,
    Subscription,
    SubscriptionRegistry,
)
from webapp.events.log_expiry import LogExpiry
from webapp.events.memory_broker import MemoryBroker
from webapp.events.published_index import InOrder, OutOfOrder
from webapp.events.redis_broker import CHANNEL, RedisBroker, ReplayBroken, connect
from webapp.events.types import Delivery, Event, EventId, Signal


def _next(sub: Subscription) -> Delivery:
    item = sub.get(timeout=5)
    assert isinstance(item, Delivery), item
    return item


def _live(sub: Subscription, broker: Broker) -> Delivery:
    """The next live delivery as a stream writes it: one named by its seq alone (the Redis
    broker's wake-up) takes the epoch of the log the stream read."""
    item = _next(sub)
    if item.id.epoch:
        return item
    event_id = EventId(broker.cursor(sub.identity).epoch, item.id.seq, item.id.tag)
    return Delivery(event_id, item.event_json)


def test_each_recipient_gets_the_event_with_its_own_ordered_ids(broker: Broker) -> None:
    alice, bob = broker.subscribe("alice"), broker.subscribe("bob")
    start_a, start_b = broker.cursor("alice"), broker.cursor("bob")
    broker.publish(Event("message_added", {"n": 1}), ["alice", "bob"])
    broker.publish(Event("message_added", {"n": 2}), ["bob"])
    got_a = _next(alice)
    got_b1, got_b2 = _next(bob), _next(bob)
    assert got_a.event.data == {"n": 1}
    assert got_a.id.seq == start_a.seq + 1 and got_a.id.epoch == start_a.epoch
    assert [got_b1.id.seq, got_b2.id.seq] == [start_b.seq + 1, start_b.seq + 2]
    assert got_b2.event.data == {"n": 2}


def test_outsiders_get_nothing(broker: Broker) -> None:
    carol = broker.subscribe("carol")
    bob = broker.subscribe("bob")
    broker.publish(Event("message_added", {"secret": True}), ["alice", "bob"])
    _next(bob)  # delivered to bob, so carol's would have arrived by now too
    assert carol.get(timeout=0.2) is None


def test_replay_returns_exactly_what_was_missed(broker: Broker) -> None:
    cursor = broker.cursor("dave")
    for n in range(3):
        broker.publish(Event("message_added", {"n": n}), ["dave"])
    replay = broker.replay("dave", cursor)
    assert not replay.resync
    assert [d.event.data["n"] for d in replay.events] == [0, 1, 2]
    assert replay.cursor.seq == cursor.seq + 3
    nothing = broker.replay("dave", replay.cursor)
    assert not nothing.resync and list(nothing.events) == []


def test_cursor_from_another_epoch_or_none_means_resync(broker: Broker) -> None:
    broker.publish(Event("message_added", {}), ["erin"])
    current = broker.cursor("erin")
    for cursor in (None, type(current)("deadbeef", 1), type(current)(current.epoch, 999)):
        replay = broker.replay("erin", cursor)
        assert replay.resync and list(replay.events) == []
        assert replay.cursor == current


def test_gap_older_than_the_log_means_resync_not_partial_replay() -> None:
    broker = MemoryBroker()
    cursor = broker.cursor("frank")
    for n in range(1005):
        broker.publish(Event("message_added", {"n": n}), ["frank"])
    assert broker.replay("frank", cursor).resync


def test_redis_log_is_capped_and_a_trimmed_gap_resyncs(redis_server: RedisServer) -> None:
    """Redis trims a log by whole nodes (of at most 100 entries): it keeps at least
    ``max_events`` and fewer than 100 more; a position whose own event is gone resyncs."""
    client = connect(redis_server.url)
    broker = RedisBroker(client, redis_server.url, max_events=5)
    try:
        wait_until(broker.live, 10, "the subscription")
        cursor = broker.cursor("gina")
        sub = broker.subscribe("gina")
        for n in range(250):
            broker.publish(Event("message_added", {"n": n}), ["gina"])
        seen = [_live(sub, broker).id for _ in range(250)]
        kept = client.xlen("parley:u:{gina}:events")
        assert 5 <= kept < 5 + 100
        oldest = 250 - kept  # the first event still in the log
        assert broker.replay("gina", cursor).resync
        assert broker.replay("gina", seen[oldest - 1]).resync  # its own event was trimmed
        replay = broker.replay("gina", seen[oldest])
        assert not replay.resync
        assert [d.event.data["n"] for d in replay.events] == list(range(oldest + 1, 250))
    finally:
        broker.close()


def test_lost_redis_log_starts_a_new_epoch(redis_server: RedisServer) -> None:
    client = connect(redis_server.url)
    broker = RedisBroker(client, redis_server.url)
    try:
        broker.publish(Event("message_added", {}), ["hank"])
        before = broker.cursor("hank")
        client.flushdb()
        broker.publish(Event("message_added", {}), ["hank"])
        after = broker.cursor("hank")
        assert after.epoch != before.epoch and after.seq == 1
        assert broker.replay("hank", before).resync
    finally:
        broker.close()


def test_a_slow_stream_is_cut_off_instead_of_blocking_others(broker: Broker) -> None:
    slow = Subscription("ivan", maxsize=3)
    broker.subscriptions.add(slow)  # type: ignore[attr-defined]
    fast = broker.subscribe("ivan")
    for n in range(5):
        broker.publish(Event("message_added", {"n": n}), ["ivan"])
    assert [_next(fast).event.data["n"] for _ in range(5)] == [0, 1, 2, 3, 4]
    assert slow.overflowed and slow.closed


def test_closing_a_users_streams_wakes_them(broker: Broker) -> None:
    sub = broker.subscribe("judy")
    broker.close_user_streams("judy")
    assert sub.get(timeout=5) is None
    assert sub.closed


def test_a_webhook_key_publishes_once(broker: Broker) -> None:
    sub = broker.subscribe("kate")
    assert broker.publish(Event("message_added", {"n": 1}), ["kate"], once="k1")
    assert not broker.publish(Event("message_added", {"n": 1}), ["kate"], once="k1")
    assert broker.publish(Event("message_added", {"n": 2}), ["kate"], once="k2")
    assert [_next(sub).event.data["n"] for _ in range(2)] == [1, 2]
    assert sub.get(timeout=0.2) is None


def test_everything_queued_is_taken_at_once_in_order(broker: Broker) -> None:
    sub = broker.subscribe("liam")
    start = broker.cursor("liam")
    for n in range(5):
        broker.publish(Event("message_added", {"n": n}), ["liam"])
    got: list[Delivery] = []
    while len(got) < 5:
        items = sub.get_all(timeout=5)
        assert items and all(isinstance(i, Delivery) for i in items)
        got += [i for i in items if isinstance(i, Delivery)]
    assert [d.id.seq for d in got] == [start.seq + n for n in range(1, 6)]
    assert [d.event.data["n"] for d in got] == [0, 1, 2, 3, 4]
    framed = got[0].framed()
    assert framed == f'id: {got[0].id}\nevent: message_added\ndata: {{"n":0}}\n\n'
    assert sub.get_all(timeout=0.1) == []


def test_identities_with_spaces_and_prefixes_get_only_their_own(broker: Broker) -> None:
    names = ["mo", "mo x", "mo x y"]
    subs = {name: broker.subscribe(name) for name in names}
    crowd = [f"user{n}" for n in range(100)]  # a large group, few of them local
    broker.publish(Event("message_added", {"to": "all"}), [*names, *crowd])
    broker.publish(Event("message_added", {"to": "mo x"}), ["mo x"])
    for sub in subs.values():
        assert _next(sub).event.data == {"to": "all"}
    assert _next(subs["mo x"]).event.data == {"to": "mo x"}
    assert subs["mo"].get(timeout=0.2) is None and subs["mo x y"].get(timeout=0.01) is None


def test_subscriptions_come_and_go_without_disturbing_lookups() -> None:
    registry = SubscriptionRegistry()
    a1, a2, b = Subscription("a"), Subscription("a"), Subscription("b")
    for sub in (a1, a2, b, a1):
        registry.add(sub)
    assert len(registry) == 3 and registry.of("a") == {a1, a2}
    seen = registry.of("a")
    registry.remove(a1)
    assert seen == {a1, a2}  # a snapshot: a dispatch in progress is not disturbed
    assert registry.of("a") == {a2} and len(registry) == 2
    registry.remove(a2)
    registry.remove(a2)
    assert registry.of("a") == frozenset() and registry.identities() == ["b"]


def test_a_busy_pool_is_not_reported_as_redis_down(redis_server: RedisServer) -> None:
    client = connect(redis_server.url, max_connections=1)
    client.connection_pool.timeout = 0.1  # type: ignore[attr-defined]
    broker = RedisBroker(client, redis_server.url)
    held = client.connection_pool.get_connection()
    try:
        with pytest.raises(BrokerBusy):
            broker.publish(Event("message_added", {}), ["nina"])
    finally:
        client.connection_pool.release(held)
        broker.close()
    down = RedisBroker(connect("redis://127.0.0.1:1/0"), "redis://127.0.0.1:1/0")
    try:
        with pytest.raises(BrokerUnavailable) as raised:
            down.publish(Event("message_added", {}), ["nina"])
        assert not isinstance(raised.value, BrokerBusy)
    finally:
        down.close()


def _signalled(broker: Broker, identity: str) -> Subscription:
    """A subscription that asked for signals, as a stream opened with ``?signals=1`` does."""
    sub = broker.subscribe(identity)
    sub.signals = True
    return sub


def test_signals_reach_only_their_recipients_and_are_never_logged(broker: Broker) -> None:
    bob, carol = _signalled(broker, "sig-bob"), _signalled(broker, "sig-carol")
    bob_tool = broker.subscribe("sig-bob")  # did not ask for signals
    before = broker.cursor("sig-bob")
    broker.signal(Event("typing", {"identity": "sig-alice"}), ["sig-bob"])
    got = bob.get(timeout=5)
    assert isinstance(got, Signal) and got.event.data == {"identity": "sig-alice"}
    assert got.framed() == 'event: typing\ndata: {"identity":"sig-alice"}\n\n'  # no id line
    assert broker.cursor("sig-bob") == before  # no log entry, no seq used
    replay = broker.replay("sig-bob", before)
    assert not replay.resync and list(replay.events) == []
    assert carol.get(timeout=0.2) is None
    assert bob_tool.get(timeout=0.01) is None


def test_signals_and_events_keep_the_events_ids_contiguous(broker: Broker) -> None:
    sub = _signalled(broker, "sig-dora")
    start = broker.cursor("sig-dora")
    broker.publish(Event("message_added", {"n": 1}), ["sig-dora"])
    broker.signal(Event("presence", {"identity": "x", "online": True}), ["sig-dora"])
    broker.publish(Event("message_added", {"n": 2}), ["sig-dora"])
    items = [sub.get(timeout=5) for _ in range(3)]
    deliveries = [i for i in items if isinstance(i, Delivery)]
    assert [d.id.seq for d in deliveries] == [start.seq + 1, start.seq + 2]
    assert sum(isinstance(i, Signal) for i in items) == 1


def test_a_signal_to_nobody_online_is_dropped(broker: Broker) -> None:
    broker.signal(Event("typing", {}), ["sig-nobody", "bad\nname"])
    broker.signal(Event("typing", {}), [])
    assert broker.cursor("sig-nobody").seq == 0


def test_a_claim_is_held_until_it_expires_or_is_released(broker: Broker) -> None:
    """The shared rate limit behind typing: one holder per key, in every process."""
    key = f"test:claim:{uuid.uuid4().hex}"
    assert broker.claim(key, 30)
    assert not broker.claim(key, 30)
    broker.release(key)
    assert broker.claim(key, 0.05)
    wait_until(lambda: broker.claim(key, 30), 5, "the short claim to expire")


def test_an_id_names_its_event_with_one_tag_for_every_recipient_and_in_replay(
    broker: Broker,
) -> None:
    alice, bob = broker.subscribe("tag-alice"), broker.subscribe("tag-bob")
    start = broker.cursor("tag-alice")
    broker.publish(Event("message_added", {"n": 1}), ["tag-alice", "tag-bob"], once="t1")
    broker.publish(Event("message_added", {"n": 1}), ["tag-alice"], once="t2")
    first, second, bobs = _live(alice, broker), _live(alice, broker), _live(bob, broker)
    assert first.id.tag and first.id.tag == bobs.id.tag  # once per event, not per recipient
    assert second.id.tag != first.id.tag  # another delivery with the same text: another tag
    assert str(first.id) == f"{start.epoch}-{start.seq + 1}.{first.id.tag}"
    assert first.framed().startswith(f"id: {first.id}\n")
    assert EventId.parse(str(first.id)) == first.id
    assert [d.id for d in broker.replay("tag-alice", start).events] == [first.id, second.id]
    assert broker.cursor("tag-alice") == second.id  # the render-time cursor carries the tag


def test_a_cursor_whose_seq_now_names_another_event_resyncs(broker: Broker) -> None:
    """What a Redis restored from an older snapshot looks like: same epoch, same seqs,
    other events at them. Only an id with the log's own tag at that seq resumes."""
    sub = broker.subscribe("tag-bea")
    for n in range(3):
        broker.publish(Event("message_added", {"n": n}), ["tag-bea"])
    ids = [_live(sub, broker).id for _ in range(3)]
    resumed = broker.replay("tag-bea", ids[1])
    assert not resumed.resync and [d.id for d in resumed.events] == [ids[2]]
    for other in (ids[1]._replace(tag="0badf00d"), ids[2]._replace(tag="0badf00d")):
        replay = broker.replay("tag-bea", other)
        assert replay.resync and list(replay.events) == []
        assert replay.cursor == ids[2]
    ahead = ids[2]._replace(seq=ids[2].seq + 1)
    assert broker.replay("tag-bea", ahead).resync


def test_an_untagged_cursor_resumes_only_from_an_untagged_entry(broker: Broker) -> None:
    """An id from before tags (``<epoch>-<seq>``, kept by a page loaded before the deploy)
    cannot be checked against a tagged entry, so it resyncs; seq 0 names no event."""
    start = broker.cursor("tag-cy")
    assert start.tag == "" and str(start) == f"{start.epoch}-0"
    broker.publish(Event("message_added", {"n": 0}), ["tag-cy"])
    broker.publish(Event("message_added", {"n": 1}), ["tag-cy"])
    assert not broker.replay("tag-cy", EventId.parse(str(start))).resync
    assert broker.replay("tag-cy", start._replace(seq=1)).resync


def test_a_page_from_the_previous_log_layout_resyncs_once(redis_server: RedisServer) -> None:
    """Logs were hashes of epoch and seq beside streams with ids ``<seq>-1``: a page holding one
    of their ids resyncs (the log it names is not read any more), then resumes as usual; a
    wake-up from a worker still writing them (ids in full) is still understood."""
    client = connect(redis_server.url)
    broker = RedisBroker(client, redis_server.url)
    try:
        meta, old_log = "parley:u:{tag-dee}:meta", "parley:u:{tag-dee}:log"
        client.hset(meta, mapping={"epoch": "0ldc0de5", "seq": 2})
        for seq in (1, 2):  # as the previous layout's script wrote them
            fields = {"t": int(time.time() * 1000), "e": '{"type":"x","data":{}}', "g": "aa"}
            client.xadd(old_log, fields, f"{seq}-1")
        wait_until(broker.live, 10, "the subscription")
        replay = broker.replay("tag-dee", EventId("0ldc0de5", 2, "aa"))
        assert replay.resync and replay.cursor.epoch != "0ldc0de5" and replay.cursor.seq == 0
        broker.publish(Event("message_added", {"n": 1}), ["tag-dee"])
        [first] = list(broker.replay("tag-dee", replay.cursor).events)
        assert first.id.seq == 1 and first.event.data == {"n": 1}
        sub = broker.subscribe("tag-dee")
        client.publish(CHANNEL, 't\n{"type":"x","data":{}}\ntag-dee 0ldc0de5-3.bb')
        assert _next(sub).id == EventId("0ldc0de5", 3, "bb")
    finally:
        broker.close()


def test_a_message_published_in_order_waits_for_the_ones_before_it(broker: Broker) -> None:
    """A new message notes its conversation's mark in its own publish; strict, it publishes
    nothing while one before it was never heard of, and says where the mark stands."""
    sid = f"CH{uuid.uuid4().hex}"
    alice = broker.subscribe("alice")
    first = InOrder(sid, 4)
    assert broker.publish(Event("message_added", {"n": 4}), ["alice"], f"{sid}:4", first)
    assert _next(alice).event.data == {"n": 4}
    # 5 is missing: 6 is refused, nothing logged, and the mark is still at 4.
    with pytest.raises(OutOfOrder) as refused:
        broker.publish(Event("message_added", {"n": 6}), ["alice"], f"{sid}:6", InOrder(sid, 6))
    assert refused.value.mark == (4, 4)
    assert alice.get(timeout=0.2) is None
    # Not strict (the gap was filled, or Twilio does not have it): published and noted.
    late = InOrder(sid, 6, strict=False)
    assert broker.publish(Event("message_added", {"n": 6}), ["alice"], f"{sid}:6", late)
    assert _next(alice).event.data == {"n": 6}
    assert broker.marks.note(sid, 7, None, touch=False).published == 4  # 5 still missing
    # A retry of 6 is a duplicate, however ordered.
    assert not broker.publish(Event("message_added", {"n": 6}), ["alice"], f"{sid}:6", late)


def test_a_message_whose_predecessor_is_being_handled_is_not_held_back(broker: Broker) -> None:
    """Twilio delivers webhooks concurrently: a message noted just before (its publish still
    on its way) counts as heard, so the next one is published at once."""
    sid = f"CH{uuid.uuid4().hex}"
    broker.marks.note(sid, 0, f"{sid}:0", touch=True)  # message 0 is noted ...
    broker.marks.note(sid, 1, f"{sid}:1", touch=True)  # ... and 1 is on its way
    assert broker.publish(Event("message_added", {"n": 2}), ["bob"], f"{sid}:2", InOrder(sid, 2))


def test_webhook_keys_and_logs_live_as_long_as_configured(redis_server: RedisServer) -> None:
    """Redis memory is planned from these bounds: a de-duplication key lives its window, a
    log keeps its last events, and both expire."""
    client = connect(redis_server.url)
    broker = RedisBroker(client, redis_server.url, max_events=3, max_age=600, once_seconds=120)
    try:
        identity = f"u{uuid.uuid4().hex[:8]}"
        for n in range(5):
            assert broker.publish(Event("message_added", {"n": n}), [identity], f"k{identity}{n}")
        assert 0 < client.ttl(f"parley:webhook:k{identity}0") <= 120
        assert client.xlen(f"parley:u:{{{identity}}}:events") <= 5  # MAXLEN ~ 3: whole nodes
        assert 600 < client.ttl(f"parley:u:{{{identity}}}:events") <= 600 + 2 * 60
    finally:
        broker.close()


def test_a_log_outlives_its_last_event_by_its_age_limit_without_an_expire_per_event(
    redis_server: RedisServer,
) -> None:
    """A publish pushes a log's expiry out only when this process last pushed it out a while
    ago (one command per recipient, not three), yet the log always lives its age limit after
    its last event: a log made again, or a stream's opening, pushes it out as well."""
    client = connect(redis_server.url)
    broker = RedisBroker(client, redis_server.url, max_age=600)
    now = [1000.0]
    broker.expiry = LogExpiry(600, clock=lambda: now[0])
    assert broker.expiry.seconds == 720  # the age limit and twice the interval (60 s)
    try:
        identity = f"u{uuid.uuid4().hex[:8]}"
        log, epoch = f"parley:u:{{{identity}}}:events", f"parley:u:{{{identity}}}:epoch"

        def ttls() -> tuple[int, int]:
            return client.ttl(log), client.ttl(epoch)

        broker.publish(Event("message_added", {"n": 1}), [identity])
        assert all(600 < ttl <= 720 for ttl in ttls())
        client.expire(log, 650)  # as if pushed out 70 s ago: still more than 600 left
        client.expire(epoch, 650)
        broker.publish(Event("message_added", {"n": 2}), [identity])
        assert all(ttl <= 650 for ttl in ttls())  # not pushed out again
        now[0] += 60  # the interval later
        broker.publish(Event("message_added", {"n": 3}), [identity])
        assert all(650 < ttl <= 720 for ttl in ttls())
        client.delete(log, epoch)  # expired or evicted: this process does not know
        broker.publish(Event("message_added", {"n": 4}), [identity])
        assert all(600 < ttl <= 720 for ttl in ttls()) and client.xlen(log) == 1
        client.expire(log, 5)
        client.expire(epoch, 5)
        assert broker.cursor(identity).seq == 1  # a stream opening reads the log
        assert all(600 < ttl <= 720 for ttl in ttls())
    finally:
        broker.close()


def test_a_failed_publish_leaves_its_recipients_expiry_due(redis_server: RedisServer) -> None:
    """Nothing appended, nothing pushed out: the next publish to them does it."""
    client = connect(redis_server.url)
    broker = RedisBroker(client, redis_server.url, max_age=600)
    try:
        identity = f"u{uuid.uuid4().hex[:8]}"
        assert broker.publish(Event("message_added", {}), [identity], once=f"k{identity}")
        broker.expiry.forget([identity])
        assert broker.expiry.due([identity]) == [identity]
        broker.expiry.forget([identity])
        assert not broker.publish(Event("message_added", {}), [identity], once=f"k{identity}")
        assert broker.expiry.due([identity]) == [identity]  # a duplicate pushed nothing out
    finally:
        broker.close()


def test_a_message_published_in_order_moves_the_mark_at_once(redis_server: RedisServer) -> None:
    """Not at the next webhook, which may come after the message's de-duplication key is
    gone (the mark would then stop there and fetch it from Twilio again)."""
    client = connect(redis_server.url)
    broker = RedisBroker(client, redis_server.url)
    try:
        sid = f"CH{uuid.uuid4().hex}"
        for n in (4, 5):
            assert broker.publish(
                Event("message_added", {}), ["bob"], f"{sid}:{n}", InOrder(sid, n)
            )
        client.delete(f"parley:webhook:{sid}:5")  # expired, an hour later
        assert broker.marks.note(sid, 6, f"{sid}:6", touch=True).published == 5
    finally:
        broker.close()


def test_a_groups_event_is_stored_once_and_replayed_whole(redis_server: RedisServer) -> None:
    """A message to many is one copy of its text in Redis, each log pointing at it; a replay
    whose text is gone (expired, evicted) breaks off whole, never skips it."""
    client = connect(redis_server.url)
    broker = RedisBroker(client, redis_server.url)
    try:
        group = [f"g{uuid.uuid4().hex[:8]}" for _ in range(3)]
        cursors = {who: broker.cursor(who) for who in group}
        broker.publish(Event("message_added", {"text": "x" * 2000}), group)
        broker.publish(Event("message_added", {"n": 2}), group[:2])  # a pair: inline
        entries = client.xrange(f"parley:u:{{{group[0]}}}:events")
        (_, shared), (_, inline) = entries[-2:]
        assert b"e" not in shared and b"e" in inline
        assert 0 < client.ttl(shared[b"r"]) <= broker.expiry.seconds  # as long as the logs
        for who in group:
            replayed = list(broker.replay(who, cursors[who]).events)
            assert replayed[0].event.data == {"text": "x" * 2000}
        client.delete(shared[b"r"])
        with pytest.raises(ReplayBroken):
            list(broker.replay(group[2], cursors[group[2]]).events)
    finally:
        broker.close()
