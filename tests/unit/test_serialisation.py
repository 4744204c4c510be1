"""Events are serialised once; ids parse strictly; SSE frames are well formed."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from webapp.events.types import Delivery, Event, EventId, event_tag
from webapp.presenters import iso, message_json
from webapp.stream.sse import comment, control
from webapp.twilio_gateway import MessageRecord


def test_event_round_trips_and_splits_without_parsing_data() -> None:
    event = Event("message_added", {"body": 'tricky ,"data": text', "n": [1, 2]})
    text = event.to_json()
    assert Event.from_json(text) == event
    event_type, data = Event.split_json(text)
    assert event_type == "message_added"
    assert json.loads(data) == event.data


def test_event_id_parses_only_well_formed_ids() -> None:
    assert EventId.parse("ab12cd34-17.9f0e1d2c") == EventId("ab12cd34", 17, "9f0e1d2c")
    assert str(EventId("ab12cd34", 17, "9f0e1d2c")) == "ab12cd34-17.9f0e1d2c"
    assert EventId.parse("ab12cd34-17") == EventId("ab12cd34", 17)  # from before tags
    assert str(EventId("ab12cd34", 0)) == "ab12cd34-0"
    bad_ids = ("", "17", "abc-", "-5", "ab cd-1", "ab-1.", "ab-1.x y", "ab-1.2.3", "ab-\u00b2")
    for bad in (None, *bad_ids, "ab-1.\u00e9", "\u00e9-1", "x" * 200 + "-1"):
        assert EventId.parse(bad) is None


@given(st.text(max_size=120))
def test_any_last_event_id_parses_to_an_id_or_none_never_an_error(text: str) -> None:
    """``Last-Event-ID`` and ``?cursor=`` come from anyone."""
    parsed = EventId.parse(text)
    assert parsed is None or EventId.parse(str(parsed)) == parsed


@given(
    st.text("0123456789abcdef", min_size=1, max_size=16),
    st.integers(min_value=0, max_value=10**12),
    st.text("0123456789abcdefghijklmnopqrstuvwxyz", max_size=12),
)
def test_every_id_round_trips_through_its_text(epoch: str, seq: int, tag: str) -> None:
    event_id = EventId(epoch, seq, tag)
    assert EventId.parse(str(event_id)) == event_id


def test_delivery_frame_carries_the_users_id() -> None:
    delivery = Delivery(EventId("e1", 3), Event("message_added", {"a": 1}).to_json())
    assert delivery.framed() == 'id: e1-3\nevent: message_added\ndata: {"a":1}\n\n'


def test_control_events_and_comments() -> None:
    assert control("resumed", {"cursor": "e1-2"}) == 'event: resumed\ndata: {"cursor":"e1-2"}\n\n'
    assert control("resync", {}, EventId("e2", 0)).startswith("id: e2-0\n")
    assert comment("heartbeat") == ": heartbeat\n\n"


def test_message_json_shape() -> None:
    when = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
    record = MessageRecord("IM1", 4, "CH1", "+15551234567", "hello", {"k": 1}, when, None, "MB1")
    shaped = message_json(record)
    assert shaped["date_created"] == "2026-11-25T10:00:00Z"
    assert shaped["source"] == "SMS"
    assert shaped["attributes"] == {"k": 1}
    assert set(shaped) >= {"sid", "index", "author", "body", "attributes", "date_created", "source"}


def _tag_as_first_written(event_json: str, once: str | None) -> str:
    text = event_json if once is None else f"{event_json}\0{once}"
    return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


def test_event_tags_never_change_across_releases() -> None:
    """A page resumes from an id made by an older release: its tag must still match."""
    event_json = '{"type":"x","data":{}}'
    assert event_tag("") == "1271cf25"
    assert event_tag(event_json) == "86362b7c"
    assert event_tag(event_json, "RQ1") == "faeae185"


@given(st.text(max_size=300), st.none() | st.text(max_size=40))
def test_event_tag_is_blake2b_of_the_text_and_its_key(event_json: str, once: str | None) -> None:
    assert event_tag(event_json, once) == _tag_as_first_written(event_json, once)


_DAY = timedelta(hours=23, minutes=59)
_OFFSETS = st.timedeltas(min_value=-_DAY, max_value=_DAY)


@given(st.datetimes(timezones=st.none() | st.just(UTC) | st.builds(timezone, _OFFSETS)))
def test_iso_writes_what_strftime_writes(value: datetime) -> None:
    assert iso(value) == value.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_iso_edge_cases() -> None:
    plus_five = timezone(timedelta(hours=5))
    cases = {
        datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC): "2026-12-31T23:59:59Z",
        datetime(2026, 1, 2, 3, 4, 5, 1): "2026-01-02T03:04:05Z",  # naive, a microsecond in
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=plus_five): "2026-01-02T03:04:05Z",  # as given
        datetime(1000, 1, 1): "1000-01-01T00:00:00Z",
        datetime(9999, 12, 31, 23, 59, 59, 999_999): "9999-12-31T23:59:59Z",
    }
    for value, text in cases.items():
        assert iso(value) == text == value.strftime("%Y-%m-%dT%H:%M:%SZ")
    for year in (1, 999):
        assert iso(datetime(year, 1, 1)) == datetime(year, 1, 1).strftime("%Y-%m-%dT%H:%M:%SZ")
