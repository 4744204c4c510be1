"""Links in messages are clickable only when they are http(s), built as DOM (never HTML); a
message that arrives while the tab is hidden shows a browser notification, which opens it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.browser.conftest import EMULATED_VISIBILITY, LIVE_MS, PAGE_MS, ChatWindow
from tests.support.servers import ParleyServer
from tests.support.waiting import wait_until

# Records `new Notification(...)` calls (as objects a test can click) instead of showing them,
# and lets the test hide the tab: `__setHidden(true)` is what switching tabs does.
NOTIFICATION_RECORDER = (
    """
(() => {
  const Real = window.Notification;
  window.__notifications = [];
  window.__focusCalls = 0;
  if (!Real) return;
  class Recorded extends EventTarget {
    constructor(title, options = {}) {
      super();
      Object.assign(this, { title, body: options.body, tag: options.tag, closed: false });
      window.__notifications.push(this);
    }
    close() { this.closed = true; }
    static get permission() { return Real.permission; }
    static requestPermission(...args) { return Real.requestPermission(...args); }
  }
  window.Notification = Recorded;
  const focus = window.focus.bind(window);
  window.focus = () => { window.__focusCalls += 1; focus(); };
})();
"""
    + EMULATED_VISIBILITY
)

NO_NOTIFICATION_API = "delete window.Notification;"

# Permission not yet asked ("default"), and a prompt the user answers with "Allow".
PROMPT_ANSWERS_ALLOW = """
(() => {
  let permission = 'default';
  window.__asked = 0;
  Object.defineProperty(window.Notification, 'permission', { get: () => permission });
  window.Notification.requestPermission = () => {
    window.__asked += 1;
    permission = 'granted';
    return Promise.resolve(permission);
  };
})();
"""


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:6]}"


def wait_for_notifications(window: ChatWindow, count: int) -> None:
    """Until ``count`` notifications were shown (the page's CSP forbids wait_for_function)."""
    wait_until(
        lambda: window.page.evaluate("window.__notifications.length") == count,
        LIVE_MS / 1000,
        f"{count} notification(s)",
    )


@pytest.fixture
def custom_window(
    browser: Browser, parley_server: ParleyServer
) -> Iterator[Callable[..., tuple[ChatWindow, BrowserContext]]]:
    """A logged-in window whose context has the given permissions and init script."""
    contexts: list[BrowserContext] = []
    windows: list[ChatWindow] = []

    def _open(
        username: str, permissions: list[str], script: str
    ) -> tuple[ChatWindow, BrowserContext]:
        context = browser.new_context(
            viewport={"width": 1000, "height": 700}, permissions=permissions
        )
        context.add_init_script(script)
        contexts.append(context)
        window = ChatWindow(context.new_page(), parley_server.url)
        windows.append(window)
        window.log_in(username, parley_server.password)
        return window, context

    yield _open
    for context in contexts:
        context.close()
    errors = [error for window in windows for error in window.script_errors]
    assert not errors, f"script errors in the page: {errors}"


HOSTILE = (
    'see https://example.org/wiki/A_(b)), then javascript:alert(1) or <a href="http://evil.test/x"'
    ' onclick="alert(2)">x</a> and "http://q.test/\'quoted\'" data:text/html,<b>bold</b> '
    "xhttp://glued.test JAVASCRIPT://http://inner.test/ https:// HTTPS://Upper.Test/P?a=1&b=2."
)
EXPECTED_LINKS = [
    ("https://example.org/wiki/A_(b)", "https://example.org/wiki/A_(b)"),
    ("http://evil.test/x", "http://evil.test/x"),
    ("http://q.test/", "http://q.test/"),
    ("http://inner.test/", "http://inner.test/"),
    ("HTTPS://Upper.Test/P?a=1&b=2", "https://upper.test/P?a=1&b=2"),
]


def test_only_http_links_become_safe_anchors_and_the_text_stays_text(open_window: Any) -> None:
    alice, bob = open_window("alice"), open_window("bob")
    dialogs: list[str] = []
    for window in (alice, bob):
        window.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    alice.start_conversation_with("bob")
    bob.open_conversation("alice")
    text = unique(HOSTILE)

    alice.send(text)
    for window in (alice, bob):
        body = window.history.locator(".message__body").filter(has_text="javascript:alert(1)").last
        expect(body).to_have_text(text, timeout=LIVE_MS)  # every character shown as typed
        links = body.locator("a")
        expect(links).to_have_count(len(EXPECTED_LINKS))
        shown = links.evaluate_all(
            "els => els.map(a => [a.textContent, a.href, a.rel, a.target, a.attributes.length])"
        )
        assert [(t, h) for t, h, *_ in shown] == EXPECTED_LINKS
        assert all(rel == "noopener noreferrer nofollow" for _, _, rel, _, _ in shown)
        assert all(target == "_blank" for *_, target, _ in shown)
        assert all(count == 4 for *_, count in shown)  # href, target, rel, class: no onclick
        assert body.locator(":scope *:not(a)").count() == 0  # no <b>, no element from the text
    assert dialogs == []  # nothing in the text ran as script


def test_a_hidden_tab_notifies_and_the_notification_opens_the_conversation(
    open_window: Any, custom_window: Any
) -> None:
    alice, _ = custom_window("alice", ["notifications"], NOTIFICATION_RECORDER)
    bob = open_window("bob")
    expect(alice.page.get_by_role("button", name="Enable notifications")).to_be_hidden()
    sid = bob.start_conversation_with("alice")
    expect(alice.conversation_link("bob")).to_be_visible(timeout=LIVE_MS)

    alice.page.evaluate("__setHidden(true)")
    ping = unique("are you there?")
    bob.send(ping)
    wait_for_notifications(alice, 1)
    shown = alice.page.evaluate(
        "(({title, body, tag}) => ({title, body, tag}))(window.__notifications[0])"
    )
    assert shown == {"title": "bob", "body": ping, "tag": sid}
    expect(alice.page).to_have_title(re.compile(r"^\(\d+\) Parley$"))

    # Visible again: a new message shows in the page, with no notification.
    alice.page.evaluate("__setHidden(false)")
    seen = unique("no need to notify")
    bob.send(seen)
    expect(alice.conversation_link("bob")).to_contain_text(seen, timeout=LIVE_MS)
    assert alice.page.evaluate("window.__notifications.length") == 1

    # Clicking the notification focuses the tab and opens the conversation.
    alice.page.evaluate("window.__notifications[0].dispatchEvent(new Event('click'))")
    expect(alice.page).to_have_url(re.compile(rf"/c/{sid}$"), timeout=PAGE_MS)
    expect(alice.page.get_by_role("heading", name="bob", exact=True)).to_be_visible()
    expect(alice.message(ping)).to_be_visible(timeout=PAGE_MS)
    assert alice.page.evaluate("window.__focusCalls") == 1
    assert alice.page.evaluate("window.__notifications[0].closed") is True

    # One's own messages never notify: only bob's, sent after alice's, does.
    alice.page.evaluate("__setHidden(true)")
    own = unique("my own")
    alice.send(own)
    expect(alice.message(own)).to_contain_text("Sent", timeout=LIVE_MS)
    last = unique("last one")
    bob.send(last)
    wait_for_notifications(alice, 2)
    assert alice.page.evaluate("window.__notifications[1].body") == last


def test_the_enable_control_asks_once_and_hides_when_it_cannot(custom_window: Any) -> None:
    # Headless Chromium cannot show the permission prompt: this stands in for the user's "Allow".
    asking, _ = custom_window("alice", [], NOTIFICATION_RECORDER + PROMPT_ANSWERS_ALLOW)
    enable = asking.page.get_by_role("button", name="Enable notifications")
    expect(enable).to_be_visible()
    enable.click()
    expect(enable).to_be_hidden(timeout=PAGE_MS)
    assert asking.page.evaluate("window.__asked") == 1

    denied, _ = custom_window("bob", [], NOTIFICATION_RECORDER)
    assert denied.page.evaluate("Notification.permission") == "denied"
    expect(denied.page.get_by_role("button", name="Enable notifications")).to_be_hidden()

    unsupported, _ = custom_window("carol", [], NO_NOTIFICATION_API)
    expect(unsupported.page.get_by_role("button", name="Enable notifications")).to_be_hidden()
