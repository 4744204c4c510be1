"""Typing indicator and presence dots, as two people see them in two real browser windows.

Fresh users per test: windows of other tests (demo users) cannot make anyone look online.
"""

from __future__ import annotations

import re
import time
import uuid

import requests
from playwright.sync_api import expect

from tests.browser.conftest import LIVE_MS, PAGE_MS, ChatWindow
from tests.support.clients import ApiClient
from tests.support.servers import ParleyServer

#: The page shows "… is typing…" this long after the last typing signal (views/typing.js).
SHOW_MS = 5_000


def new_user(server: ParleyServer, prefix: str) -> str:
    """Register a user through the real form, with the password the windows log in with."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    session = requests.Session()
    page = session.get(server.url + "/register", timeout=10)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    assert token
    form = {"username": name, "password": server.password, "confirm": server.password}
    answer = session.post(
        server.url + "/register", data={**form, "csrf_token": token.group(1)}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return name


def test_typing_shows_for_the_other_person_and_goes_away(open_window, parley_server):
    alice_name, bob_name = new_user(parley_server, "alice"), new_user(parley_server, "bob")
    alice, bob = open_window(alice_name), open_window(bob_name)
    alice.start_conversation_with(bob_name)
    expect(bob.conversation_link(alice_name)).to_be_visible(timeout=LIVE_MS)
    bob.open_conversation(alice_name)

    typing_text = f"{alice_name} is typing…"
    pane_line = bob.page.locator("#typing-indicator")
    composer = alice.page.get_by_role("textbox", name="Message")
    composer.press_sequentially("hel")
    expect(pane_line).to_have_text(typing_text, timeout=LIVE_MS)
    seen_at = time.monotonic()
    expect(bob.conversation_link(alice_name)).to_contain_text(typing_text)
    expect(alice.page.locator("#typing-indicator")).to_be_hidden()  # never one's own
    expect(alice.conversation_link(bob_name)).not_to_contain_text("typing")

    # She stops typing: the indicator goes after about five seconds, in the pane and the list.
    expect(pane_line).to_be_hidden(timeout=SHOW_MS + 3_000)
    assert time.monotonic() - seen_at > (SHOW_MS - 1_500) / 1000
    expect(bob.conversation_link(alice_name)).not_to_contain_text("typing")

    # She types again and sends: the indicator goes as soon as her message arrives.
    composer.press_sequentially("lo bob")
    expect(pane_line).to_have_text(typing_text, timeout=LIVE_MS)
    seen_at = time.monotonic()
    composer.press("Enter")
    expect(bob.message("hello bob")).to_be_visible(timeout=LIVE_MS)
    expect(pane_line).to_be_hidden(timeout=1_500)
    assert time.monotonic() - seen_at < (SHOW_MS - 500) / 1000
    expect(bob.conversation_link(alice_name)).to_contain_text("hello bob")

    # A quick next message: sending ended the burst, so "typing…" shows again at once.
    composer.press_sequentially("and")
    expect(pane_line).to_have_text(typing_text, timeout=LIVE_MS)


def test_group_typing_names_two_then_several(open_window):
    window = open_window()
    window.page.goto(window.base_url + "/login")
    texts = window.page.evaluate(
        """async () => {
            const { typingText } = await import('/static/js/views/typing.js');
            return [typingText([]), typingText(['bob']), typingText(['bob', 'carol']),
                    typingText(['bob', 'carol', 'dave'])];
        }"""
    )
    assert texts == [
        "",
        "bob is typing…",
        "bob and carol are typing…",
        "Several people are typing…",
    ]


def test_presence_dot_follows_the_other_persons_page(open_window, browser, parley_server):
    alice_name, bob_name = new_user(parley_server, "alice"), new_user(parley_server, "bob")
    bob = open_window(bob_name)
    bob.start_conversation_with(alice_name)
    dot = bob.conversation_link(alice_name).locator(".presence")
    header = bob.page.locator("#pane-presence")
    expect(dot).to_have_attribute("data-presence", "offline", timeout=PAGE_MS)
    expect(header).to_have_text("Offline")
    expect(bob.conversation_link(alice_name)).to_contain_text("offline")  # read with the row

    # Alice opens the page: her dot turns online at once.
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    try:
        alice = ChatWindow(context.new_page(), parley_server.url)
        alice.log_in(alice_name, parley_server.password)
        expect(dot).to_have_attribute("data-presence", "online", timeout=LIVE_MS)
        expect(header).to_have_text("Online")
        expect(header).to_have_attribute("data-presence", "online")
        assert alice.script_errors == []
    finally:
        context.close()  # she closes the window

    expect(dot).to_have_attribute("data-presence", "offline", timeout=LIVE_MS)
    expect(header).to_have_text("Offline")


def test_a_group_names_who_is_typing_and_counts_who_is_online(open_window, parley_server):
    names = [new_user(parley_server, prefix) for prefix in ("ann", "ben", "cat")]
    ann_name, ben_name, cat_name = names
    owner = ApiClient(parley_server.url).login(ann_name, parley_server.password)
    group = {"participants": [ben_name, cat_name], "friendly_name": f"Team {ann_name[-6:]}"}
    assert owner.post("/api/conversations", group).status_code == 201
    ann, ben, cat = (open_window(name) for name in names)
    for window in (ann, ben, cat):
        window.open_conversation(group["friendly_name"])

    expect(ann.page.locator("#pane-presence")).to_have_text("2 online", timeout=LIVE_MS)
    ben.page.get_by_role("textbox", name="Message").press_sequentially("hi")
    cat.page.get_by_role("textbox", name="Message").press_sequentially("yo")
    both = f"{min(ben_name, cat_name)} and {max(ben_name, cat_name)} are typing…"
    expect(ann.page.locator("#typing-indicator")).to_have_text(both, timeout=LIVE_MS)
    expect(ann.conversation_link(group["friendly_name"])).to_contain_text(both)
    expect(ben.page.locator("#typing-indicator")).to_have_text(f"{cat_name} is typing…")

    cat.page.close()
    expect(ann.page.locator("#pane-presence")).to_have_text("1 online", timeout=LIVE_MS)
