"""The stream's resume rules for live events (``webapp/stream/outbox.py``): ids only move
forward, a duplicate is dropped, and a log that went back (a failover, a restore from an
older snapshot: a seq behind the stream's, or its own seq naming another event) is a resync,
never a silent drop."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webapp.events.broker import CATCH_UP
from webapp.events.memory_broker import MemoryBroker
from webapp.events.types import Delivery, Event, EventId
from webapp.stream.outbox import Outbox


def live(seq: int, tag: str, epoch: str = "e1") -> Delivery:
    return Delivery(EventId(epoch, seq, tag), Event("message_added", {"tag": tag}).to_json())


def by_seq(seq: int, tag: str) -> Delivery:
    """A live event as the Redis broker's wake-up names it: ``<seq>.<tag>``, no epoch."""
    event_json = Event("message_added", {"tag": tag}).to_json()
    return Delivery(EventId("", seq, tag), event_json, None, f"{seq}.{tag}")


def ids_and_events(text: str) -> list[tuple[str, str]]:
    """``(id, event type)`` of each SSE message written."""
    return re.findall(r"id: (\S+)\nevent: (\S+)\n", text)


def outbox_at(last: EventId, seam_open: bool = False) -> Outbox:
    outbox = Outbox(MemoryBroker(), "alice", last)
    if not seam_open:
        outbox.seam_until = 0.0  # as SEAM_SECONDS after the stream read the log
    return outbox


@pytest.mark.parametrize("named", [live, by_seq], ids=["in full", "by its seq alone"])
def test_live_events_move_forward_and_the_same_event_again_is_dropped(
    named: Callable[[int, str], Delivery],
) -> None:
    """An event named by its seq alone takes the epoch the stream read with the log."""
    outbox = outbox_at(EventId("e1", 4, "aa"))
    text, delivered = outbox.render([named(5, "bb"), named(6, "cc"), named(6, "cc")])
    assert ids_and_events(text) == [("e1-5.bb", "message_added"), ("e1-6.cc", "message_added")]
    assert delivered == 2 and outbox.last == EventId("e1", 6, "cc")


def test_a_live_seq_behind_the_stream_means_resync() -> None:
    outbox = outbox_at(EventId("e1", 4, "aa"))
    outbox.render([live(5, "bb"), live(6, "cc")])
    text, delivered = outbox.render([live(5, "xx"), live(6, "yy")])  # the log went back to 4
    assert ids_and_events(text) == [("e1-5.xx", "resync"), ("e1-6.yy", "message_added")]
    assert '"cursor":"e1-5.xx"' in text and delivered == 1
    assert outbox.last == EventId("e1", 6, "yy")


def test_the_streams_own_seq_with_another_tag_means_resync() -> None:
    outbox = outbox_at(EventId("e1", 4, "aa"))
    text, _ = outbox.render([live(4, "zz")])  # the log went back to 3, then on to 4 again
    assert ids_and_events(text) == [("e1-4.zz", "resync")]
    assert outbox.last == EventId("e1", 4, "zz")


def test_another_epoch_means_resync() -> None:
    outbox = outbox_at(EventId("e1", 4, "aa"))
    text, _ = outbox.render([live(1, "bb", epoch="e2")])
    assert ids_and_events(text) == [("e2-1.bb", "resync")]


def test_a_log_made_again_names_its_new_epoch_and_the_stream_follows_it() -> None:
    """A log's first entry comes with its epoch in full: a stream on the old one resyncs to
    it, and the seqs after it are in the new epoch."""
    outbox = outbox_at(EventId("e1", 4, "aa"))
    text, _ = outbox.render([live(1, "bb", epoch="e2"), by_seq(2, "cc")])
    assert ids_and_events(text) == [("e2-1.bb", "resync"), ("e2-2.cc", "message_added")]


def test_what_the_log_read_covered_may_still_arrive_live_and_is_dropped() -> None:
    """The stream subscribed before reading the log: events published in between are in its
    queue too. Behind the position the read gave, they are duplicates, not a rewind."""
    outbox = outbox_at(EventId("e1", 6, "cc"), seam_open=True)
    text, delivered = outbox.render([live(5, "bb"), live(6, "cc"), live(7, "dd")])
    assert ids_and_events(text) == [("e1-7.dd", "message_added")] and delivered == 1
    text, _ = outbox.render([live(5, "bb")])  # a live event past the read ended the seam
    assert ids_and_events(text) == [("e1-5.bb", "resync")]


def test_a_replay_opens_the_seam_again() -> None:
    outbox = outbox_at(EventId("e1", 2, "aa"))
    outbox.caught_up(EventId("e1", 6, "cc"))
    text, _ = outbox.render([live(4, "x4"), live(5, "x5"), live(6, "cc")])
    assert text == "" and outbox.last == EventId("e1", 6, "cc")


def test_a_catch_up_from_an_id_the_log_now_names_otherwise_resyncs() -> None:
    broker = MemoryBroker()
    for n in range(2):
        broker.publish(Event("message_added", {"n": n}), ["alice"])
    current = broker.cursor("alice")
    outbox = Outbox(broker, "alice", current._replace(tag="0badf00d"))
    text, delivered = outbox.render([CATCH_UP])
    assert ids_and_events(text) == [(str(current), "resync")] and delivered == 0
    outbox = Outbox(broker, "alice", current._replace(seq=1, tag="0badf00d"))
    assert ids_and_events(outbox.render([CATCH_UP])[0]) == [(str(current), "resync")]


class Timeline:
    """One user's log as Redis holds it, turned back now and then (a failover, a restore
    from an older snapshot) or lost (a new epoch). Every publish gets a tag of its own."""

    def __init__(self) -> None:
        self.epoch, self.made = "e0", 0
        self.log: list[EventId] = []
        #: What a page reloading over REST right after each event sees: the log at that time.
        self.as_of: dict[EventId, frozenset[EventId]] = {}

    def publish(self) -> Delivery:
        """The event as the Redis broker's wake-up names it: its seq alone, or its id in full
        for a log's first entry."""
        self.made += 1
        seq = self.log[-1].seq + 1 if self.log else 1
        event_id = EventId(self.epoch, seq, f"t{self.made}")
        self.log.append(event_id)
        self.as_of[event_id] = frozenset(self.log)
        if seq == 1:
            return Delivery(event_id, Event("message_added", {}).to_json())
        return by_seq(seq, event_id.tag)

    def rewind(self, events: int) -> None:
        del self.log[max(0, len(self.log) - events) :]

    def lose(self) -> None:
        self.epoch, self.log = f"e{self.made + 1}", []


@given(
    st.lists(
        st.one_of(
            st.sampled_from(["publish", "publish", "publish", "write", "lose"]),
            st.integers(min_value=1, max_value=4),  # turn the log back this many events
        ),
        max_size=60,
    )
)
def test_whatever_happens_to_the_log_a_live_stream_never_silently_loses_an_event(
    steps: list[str | int],
) -> None:
    """The page ends up with every event of the log: each was written to it, or a resync
    sent it back to REST after the event was in the log."""
    timeline = Timeline()
    for _ in range(3):
        timeline.publish()
    page = set(timeline.log)
    outbox = outbox_at(timeline.log[-1])  # live for a while: past the seam after its log read
    queued: list[Delivery] = []

    def write() -> None:
        nonlocal page
        text, _ = outbox.render(queued)
        queued.clear()
        for raw_id, kind in ids_and_events(text):
            event_id = EventId.parse(raw_id)
            assert event_id is not None
            if kind == "resync":
                page = set(timeline.as_of[event_id])
            else:
                page.add(event_id)

    for step in steps:
        if step == "publish":
            queued.append(timeline.publish())
        elif step == "write":
            write()
        elif step == "lose":
            timeline.lose()
        else:
            timeline.rewind(int(step))
    write()
    assert set(timeline.log) <= page
