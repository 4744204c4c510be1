"""The page's side of docs/stream-resume.md. /stream is answered with canned event bodies
(built from the page's real render-time cursor); everything else is the real server."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Request, Route, expect

from tests.browser.conftest import PAGE_MS
from webapp.events.types import EventId

STREAM_URL = re.compile(r"/stream\?cursor=")


def sse(event: str, data: dict, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data)}\n\n"


def conversation_added(event_id: str, name: str) -> str:
    conversation = {
        "sid": "CH" + name.encode().hex().ljust(32, "0")[:32],
        "unique_name": None,
        "friendly_name": name,
        "participants": ["alice", "bob", "carol"],
        "last_message": None,
        "unread_count": 0,
        "last_activity": datetime.now(UTC).isoformat(),
    }
    return sse("conversation_added", {"conversation": conversation}, event_id)


class CannedStream:
    """Serves /stream: the n-th request gets the n-th body of ``script(epoch, seq)``, where
    epoch and seq come from the first request's cursor (the page's render-time cursor, with
    its tag); records every request's cursor."""

    def __init__(self, script: Callable[[str, int], list[str]]) -> None:
        self.script = script
        self.bodies: list[str] | None = None
        self.cursors: list[str] = []

    def __call__(self, route: Route) -> None:
        cursor = parse_qs(urlsplit(route.request.url).query)["cursor"][0]
        self.cursors.append(cursor)
        if self.bodies is None:
            start = EventId.parse(cursor)
            assert start is not None, cursor
            self.bodies = self.script(start.epoch, start.seq)
        body = self.bodies.pop(0) if self.bodies else ": idle\n\n"
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)


def test_a_gap_in_event_ids_reopens_the_stream_from_the_last_good_id(open_window, parley_server):
    def script(epoch: str, n: int) -> list[str]:
        return [
            sse("resumed", {"cursor": f"{epoch}-{n}"})
            + conversation_added(f"{epoch}-{n + 1}.a1", "First event")
            + conversation_added(f"{epoch}-{n + 3}.a3", "Third event"),  # n + 2 never came
            # What the server replays from the last good id, n + 1:
            conversation_added(f"{epoch}-{n + 2}.a2", "Second event")
            + conversation_added(f"{epoch}-{n + 3}.a3", "Third event"),
        ]

    stream = CannedStream(script)
    window = open_window()
    window.page.route(STREAM_URL, stream)
    window.log_in("alice", parley_server.password)

    for name in ("First event", "Second event", "Third event"):
        expect(window.conversation_link(name)).to_have_count(1, timeout=PAGE_MS)
    start = EventId.parse(stream.cursors[0])
    assert start is not None, stream.cursors[0]
    assert stream.cursors[1] == f"{start.epoch}-{start.seq + 1}.a1"


def test_another_event_at_the_pages_own_seq_reopens_the_stream_from_its_last_good_id(
    open_window, parley_server
):
    """A server whose log went back (a failover) may send another event under a seq the page
    already has: same seq, another tag. The page does not take it for the one it applied, nor
    show it: it asks again from its last good id (the server then answers resync)."""

    def script(epoch: str, n: int) -> list[str]:
        return [
            sse("resumed", {"cursor": f"{epoch}-{n}"})
            + conversation_added(f"{epoch}-{n + 1}.a1", "First event")
            + conversation_added(f"{epoch}-{n + 1}.b1", "Impostor event")
        ]

    stream = CannedStream(script)
    window = open_window()
    window.page.route(STREAM_URL, stream)

    def reopened(request: Request) -> bool:
        return "/stream?" in request.url and ".a1" in request.url

    with window.page.expect_request(reopened, timeout=PAGE_MS):
        window.log_in("alice", parley_server.password)
    expect(window.conversation_link("First event")).to_have_count(1, timeout=PAGE_MS)
    expect(window.conversation_link("Impostor event")).to_have_count(0)
    start = EventId.parse(stream.cursors[0])
    assert start is not None and stream.cursors[1] == f"{start.epoch}-{start.seq + 1}.a1"


def test_resync_reloads_over_rest_and_resumes_from_the_new_id(open_window, parley_server):
    new_id = "9999999999-7"  # another epoch: the server lost the log
    stream = CannedStream(lambda epoch, n: [sse("resync", {"cursor": new_id}, new_id)])
    list_loads: list[Request] = []

    def second_list_load(request: Request) -> bool:
        if request.method == "GET" and urlsplit(request.url).path == "/api/conversations":
            list_loads.append(request)
        return len(list_loads) >= 2

    window = open_window()
    window.page.route(STREAM_URL, stream)
    with (
        window.page.expect_request(second_list_load, timeout=PAGE_MS),
        window.page.expect_request(lambda r: f"cursor={new_id}" in r.url, timeout=PAGE_MS),
    ):
        window.log_in("alice", parley_server.password)


def test_an_event_type_the_page_does_not_know_moves_the_cursor_and_is_ignored(
    open_window, parley_server
):
    def script(epoch: str, n: int) -> list[str]:
        unknown = sse("something_new", {"conversation_sid": "CH" + "0" * 32}, f"{epoch}-{n + 1}")
        after = conversation_added(f"{epoch}-{n + 2}", "After the unknown")
        return [
            sse("resumed", {"cursor": f"{epoch}-{n}"}) + unknown + after,
            # The page heard n + 2 after n: what the server replays from n is the same.
            sse("resumed", {"cursor": f"{epoch}-{n}"})
            + unknown
            + after
            + conversation_added(f"{epoch}-{n + 3}", "Then live again"),
            # That body ends: the page comes back from the newest id it heard.
            conversation_added(f"{epoch}-{n + 4}", "Third connection"),
        ]

    stream = CannedStream(script)
    window = open_window()
    window.page.route(STREAM_URL, stream)
    window.log_in("alice", parley_server.password)

    for name in ("After the unknown", "Then live again", "Third connection"):
        expect(window.conversation_link(name)).to_have_count(1, timeout=PAGE_MS)
    start = EventId.parse(stream.cursors[0])
    assert start is not None
    third = f"{start.epoch}-{start.seq + 3}"
    assert stream.cursors[:3] == [stream.cursors[0], stream.cursors[0], third]
