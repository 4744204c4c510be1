"""Many tabs of one browser share one stream (static/js/tabs.js): every tab is live, the API
still answers past the 6 connections HTTP/1.1 allows per origin, a closed leader tab is taken
over with nothing lost or doubled, reads clear the badge everywhere, one notification per
message. The open streams are counted twice: requests the browser made, and the server's gauge."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect

from tests.browser.conftest import EMULATED_VISIBILITY, LIVE_MS, PAGE_MS, ChatWindow
from tests.support.clients import ApiClient
from tests.support.servers import ParleyServer, run_parley, start_redis
from tests.support.waiting import wait_until

METRICS_TOKEN = "tabs-metrics-token"
TABS = 10
#: How soon another tab holds the stream after the leader's tab closed (the lease's beat is 1 s).
TAKEOVER_S = 2.0

# Counts `new Notification(...)` in this tab instead of showing it.
NOTIFICATION_COUNTER = (
    """
(() => {
  const Real = window.Notification;
  window.__notifications = [];
  if (!Real) return;
  class Counted extends EventTarget {
    constructor(title, options = {}) {
      super();
      window.__notifications.push({ title, body: options.body });
    }
    close() {}
    static get permission() { return Real.permission; }
    static requestPermission(...args) { return Real.requestPermission(...args); }
  }
  window.Notification = Counted;
})();
"""
    + EMULATED_VISIBILITY
)

# A browser without Web Locks: the tabs elect their leader with a localStorage lease.
NO_WEB_LOCKS = "Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined });"


@pytest.fixture(scope="module")
def tabs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParleyServer]:
    """A Parley of this module's own, so that its open-streams gauge counts only these tabs."""
    redis = start_redis()
    try:
        tmp: Path = tmp_path_factory.mktemp("parley-tabs")
        with run_parley(tmp, REDIS_URL=redis.url, METRICS_TOKEN=METRICS_TOKEN) as server:
            yield server
    finally:
        redis.stop()


class OneBrowser:
    """One browser (one context: shared cookies, storage, locks) with several Parley tabs."""

    def __init__(self, context: BrowserContext, server: ParleyServer) -> None:
        self.context = context
        self.server = server
        self.tabs: list[ChatWindow] = []
        self.closed: list[ChatWindow] = []
        #: every GET /stream each tab opened, and which of them are still open
        self.streams: dict[Page, list[Request]] = {}
        self.open_streams: set[Request] = set()
        self.opened_at: list[float] = []
        context.on("request", self._requested)
        context.on("requestfinished", self._ended)
        context.on("requestfailed", self._ended)

    def _requested(self, request: Request) -> None:
        if re.search(r"/stream(\?|$)", request.url):
            self.streams.setdefault(request.frame.page, []).append(request)
            self.opened_at.append(time.monotonic())
            self.open_streams.add(request)

    def _ended(self, request: Request) -> None:
        self.open_streams.discard(request)

    def open_tab(self) -> ChatWindow:
        window = ChatWindow(self.context.new_page(), self.server.url)
        if not self.tabs and not self.closed:
            window.log_in("alice", self.server.password)
        else:
            window.page.goto(self.server.url + "/")
            window.wait_for_conversations()
        self.tabs.append(window)
        return window

    def open_stream_count(self) -> int:
        """Streams open in the tabs still open (a closed tab's request may never report its end)."""
        return sum(r in self.open_streams for w in self.tabs for r in self.streams.get(w.page, []))

    def stream_requests(self) -> int:
        return sum(len(requests) for requests in self.streams.values())

    def leader(self) -> ChatWindow:
        """The tab whose stream is open (there must be exactly one)."""
        holders = [
            w
            for w in self.tabs
            if any(r in self.open_streams for r in self.streams.get(w.page, []))
        ]
        assert len(holders) == 1, f"{len(holders)} tabs hold a stream"
        return holders[0]

    def close_tab(self, window: ChatWindow) -> None:
        window.page.close()
        self.tabs.remove(window)
        self.closed.append(window)

    def notifications(self) -> int:
        return sum(w.page.evaluate("window.__notifications.length") for w in self.tabs)


@pytest.fixture
def alice_browser(
    browser: Browser, tabs_server: ParleyServer
) -> Iterator[Callable[..., OneBrowser]]:
    contexts: list[OneBrowser] = []

    def _open(script: str = "") -> OneBrowser:
        context = browser.new_context(
            viewport={"width": 1000, "height": 700}, permissions=["notifications"]
        )
        context.add_init_script(NOTIFICATION_COUNTER + script)
        opened = OneBrowser(context, tabs_server)
        contexts.append(opened)
        return opened

    yield _open
    for opened in contexts:
        opened.context.close()
    errors = [
        e for opened in contexts for w in opened.tabs + opened.closed for e in w.script_errors
    ]
    assert not errors, f"script errors in the page: {errors}"


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:6]}"


def server_open_streams(server: ParleyServer) -> float:
    answer = requests.get(
        server.url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5
    )
    answer.raise_for_status()
    match = re.search(r"^parley_open_streams\S* ([0-9.e+]+)$", answer.text, re.MULTILINE)
    assert match, answer.text
    return float(match.group(1))


def bob(server: ParleyServer) -> ApiClient:
    return ApiClient(server.url).login("bob", server.password)


def test_ten_tabs_share_one_stream_all_live_the_api_answers_one_notification(
    alice_browser: Callable[..., OneBrowser], tabs_server: ParleyServer
) -> None:
    chrome = alice_browser()
    for _ in range(TABS):
        chrome.open_tab()
    wait_until(chrome.open_stream_count, PAGE_MS / 1000, "the stream")
    wait_until(lambda: server_open_streams(tabs_server) == 1, PAGE_MS / 1000, "one open stream")
    assert chrome.open_stream_count() == 1
    assert chrome.stream_requests() == 1

    # Every tab hears bob's message live.
    sender = bob(tabs_server)
    sid = sender.start_dm("alice")["sid"]
    hello = unique("hello all tabs")
    assert sender.send(sid, hello).status_code == 201
    for window in chrome.tabs:
        expect(window.conversation_link("bob")).to_contain_text(hello, timeout=LIVE_MS)

    # The API still answers every tab at once (with a stream per tab, it would stall).
    statuses = [
        window.page.evaluate("fetch('/api/conversations').then((answer) => answer.status)")
        for window in chrome.tabs
    ]
    assert statuses == [200] * TABS
    last = chrome.tabs[-1]
    last.open_conversation("bob")
    mine = unique("from the tenth tab")
    last.send(mine)
    expect(last.message(mine)).to_contain_text("Sent", timeout=LIVE_MS)

    # Nobody looking: one notification for the browser, not one per tab.
    for window in chrome.tabs:
        window.page.evaluate("__setHidden(true)")
    ping = unique("anyone?")
    assert sender.send(sid, ping).status_code == 201
    for window in chrome.tabs:
        expect(window.conversation_link("bob")).to_contain_text(ping, timeout=LIVE_MS)
    wait_until(lambda: chrome.notifications() >= 1, LIVE_MS / 1000, "a notification")
    assert chrome.notifications() == 1

    # One tab on screen: it shows the message, and nobody notifies.
    chrome.tabs[3].page.evaluate("__setHidden(false)")
    seen = unique("seen in tab four")
    assert sender.send(sid, seen).status_code == 201
    for window in chrome.tabs:
        expect(window.conversation_link("bob")).to_contain_text(seen, timeout=LIVE_MS)
    assert chrome.notifications() == 1
    assert chrome.open_stream_count() == 1
    assert chrome.stream_requests() == 1
    assert server_open_streams(tabs_server) == 1


@pytest.mark.parametrize("election", ["web locks", "localStorage lease"])
def test_closing_the_leader_mid_burst_loses_nothing_and_doubles_nothing(
    alice_browser: Callable[..., OneBrowser], tabs_server: ParleyServer, election: str
) -> None:
    chrome = alice_browser(NO_WEB_LOCKS if election == "localStorage lease" else "")
    sender = bob(tabs_server)
    name = unique("Burst")  # a group of this run's own: nothing unread in it yet
    created = sender.post("/api/conversations", {"participants": ["alice"], "friendly_name": name})
    assert created.status_code == 201, created.text
    sid = created.json()["conversation"]["sid"]
    first = chrome.open_tab()
    first.open_conversation(name)
    reader = chrome.open_tab()  # the list only: its badge counts what it applied
    watcher = chrome.open_tab()
    watcher.page.goto(f"{tabs_server.url}/c/{sid}")
    expect(watcher.page.get_by_text("Loading messages…")).to_be_hidden(timeout=PAGE_MS)
    wait_until(chrome.open_stream_count, PAGE_MS / 1000, "the stream")
    leader = chrome.leader()
    # Read so far; then nobody looks, so nothing is read and the badge counts what was applied.
    expect(reader.conversation_link(name).locator(".badge")).to_be_hidden(timeout=PAGE_MS)
    for window in chrome.tabs:
        window.page.evaluate("__setHidden(true)")

    burst = [unique(f"burst {n}") for n in range(20)]
    for n, text in enumerate(burst):
        assert sender.send(sid, text).status_code == 201
        if n == 7:
            closed_at = time.monotonic()
            chrome.close_tab(leader)

    for window in chrome.tabs:
        if window is reader:
            continue
        for text in burst:
            expect(window.message(text)).to_be_visible(timeout=PAGE_MS)
        bodies = window.message_bodies()
        assert [b for b in bodies if b in burst] == burst  # each once, in order
    if reader is not leader:
        # Its badge counts each message once: nothing doubled by the takeover.
        row = reader.conversation_link(name)
        expect(row).to_contain_text(burst[-1], timeout=PAGE_MS)
        expect(row.locator(".badge")).to_have_text(f"{len(burst)} unread")
    wait_until(lambda: chrome.open_stream_count() == 1, PAGE_MS / 1000, "one stream again")
    chrome.leader()  # a surviving tab took over, within a second or two
    assert chrome.stream_requests() == 2
    assert chrome.opened_at[-1] - closed_at < TAKEOVER_S
    wait_until(lambda: server_open_streams(tabs_server) == 1, PAGE_MS / 1000, "one open stream")


def test_a_read_in_one_tab_clears_the_badge_in_all(
    alice_browser: Callable[..., OneBrowser], tabs_server: ParleyServer
) -> None:
    chrome = alice_browser()
    # carol: a conversation of this test's own, nothing unread in it yet.
    sender = ApiClient(tabs_server.url).login("carol", tabs_server.password)
    sid = sender.start_dm("alice")["sid"]
    tabs = [chrome.open_tab() for _ in range(3)]
    news = [unique("unread") for _ in range(3)]
    for text in news:
        assert sender.send(sid, text).status_code == 201
    for window in tabs:
        badge = window.conversation_link("carol").locator(".badge")
        expect(badge).to_contain_text("3", timeout=LIVE_MS)
    tabs[0].open_conversation("carol")
    for window in tabs:
        expect(window.conversation_link("carol").locator(".badge")).to_be_hidden(timeout=LIVE_MS)


def test_a_leader_about_to_freeze_hands_over_and_follows_when_it_wakes(
    alice_browser: Callable[..., OneBrowser], tabs_server: ParleyServer
) -> None:
    chrome = alice_browser()
    sender = ApiClient(tabs_server.url).login("carol", tabs_server.password)
    sid = sender.start_dm("alice")["sid"]
    first, second = chrome.open_tab(), chrome.open_tab()
    for window in (first, second):
        window.page.goto(f"{tabs_server.url}/c/{sid}")
        expect(window.page.get_by_text("Loading messages…")).to_be_hidden(timeout=PAGE_MS)
    wait_until(chrome.open_stream_count, PAGE_MS / 1000, "the stream")
    leader = chrome.leader()
    other = second if leader is first else first

    # The browser is about to freeze the leader's tab (as it does to background tabs): the other
    # takes over. Headless Chromium does not freeze pages (CDP's Page.setWebLifecycleState fires
    # no `freeze` there), so the page is told as Chrome tells it, by the Page Lifecycle event.
    leader.page.evaluate("document.dispatchEvent(new Event('freeze'))")
    while_frozen = [unique(f"while frozen {n}") for n in range(3)]
    for text in while_frozen:
        assert sender.send(sid, text).status_code == 201
    for text in while_frozen:
        expect(other.message(text)).to_be_visible(timeout=PAGE_MS)
    wait_until(lambda: chrome.leader() is other, PAGE_MS / 1000, "the other tab leads")

    # Awake, it follows the new leader: each message once, one stream still.
    leader.page.evaluate("document.dispatchEvent(new Event('resume'))")
    after = unique("after waking")
    assert sender.send(sid, after).status_code == 201
    for window in (first, second):
        expect(window.message(after)).to_be_visible(timeout=PAGE_MS)
        bodies = window.message_bodies()
        assert [b for b in bodies if b in [*while_frozen, after]] == [*while_frozen, after]
    assert chrome.open_stream_count() == 1
    assert chrome.leader() is other


def test_without_broadcast_channel_each_tab_keeps_its_own_stream(
    alice_browser: Callable[..., OneBrowser], tabs_server: ParleyServer
) -> None:
    chrome = alice_browser("delete window.BroadcastChannel;")
    sender = ApiClient(tabs_server.url).login("carol", tabs_server.password)
    sid = sender.start_dm("alice")["sid"]
    tabs = [chrome.open_tab() for _ in range(2)]
    wait_until(lambda: chrome.open_stream_count() == 2, PAGE_MS / 1000, "a stream per tab")
    text = unique("to each tab")
    assert sender.send(sid, text).status_code == 201
    for window in tabs:
        expect(window.conversation_link("carol")).to_contain_text(text, timeout=LIVE_MS)
