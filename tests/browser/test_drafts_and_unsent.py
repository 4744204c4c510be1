"""What is typed is never lost or misdirected: a draft belongs to its conversation, and a
message that could not be sent survives a reload and goes by itself when the network is back."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Locator, Route, expect

from tests.browser.conftest import LIVE_MS, PAGE_MS, ChatWindow

SEND_URL = re.compile(r"/api/conversations/\w+/messages$")


def composer(window: ChatWindow) -> Locator:
    return window.page.get_by_role("textbox", name="Message")


def refuse_sends(route: Route) -> None:
    """The network drops every send (the page sees a failed fetch); reads go through."""
    if route.request.method == "POST":
        route.abort("internetdisconnected")
    else:
        route.continue_()


def test_a_draft_stays_in_its_conversation_across_switching_and_reload(open_window):
    alice = open_window("alice")
    alice.start_conversation_with("carol")
    alice.start_conversation_with("bob")
    draft = f"for bob only {uuid.uuid4().hex[:6]}"
    composer(alice).fill(draft)

    alice.open_conversation("carol")
    expect(composer(alice)).to_have_value("")
    composer(alice).press("Enter")  # nothing to send here: the draft stayed with bob
    composer(alice).fill("carol's own draft")

    alice.open_conversation("bob")
    expect(composer(alice)).to_have_value(draft)
    alice.page.reload()
    expect(composer(alice)).to_have_value(draft, timeout=PAGE_MS)
    composer(alice).press("Enter")
    expect(alice.message(draft)).to_contain_text("Sent", timeout=LIVE_MS)
    expect(composer(alice)).to_have_value("")

    alice.open_conversation("carol")
    expect(composer(alice)).to_have_value("carol's own draft")
    expect(alice.history.get_by_text(draft)).to_have_count(0)


def test_a_failed_message_survives_a_reload_and_is_sent_by_retry(open_window):
    alice = open_window("alice")
    alice.start_conversation_with("bob")
    alice.page.route(SEND_URL, refuse_sends)
    text = f"through the tunnel {uuid.uuid4().hex[:6]}"
    alice.send(text)
    expect(alice.message(text)).to_contain_text("Failed", timeout=PAGE_MS)

    alice.page.reload()
    expect(alice.message(text)).to_contain_text("Failed", timeout=PAGE_MS)
    alice.page.unroute(SEND_URL, refuse_sends)
    alice.message(text).get_by_role("button", name="Retry").click()
    expect(alice.message(text)).to_contain_text("Sent", timeout=LIVE_MS)
    alice.page.reload()
    expect(alice.message(text)).to_contain_text("Sent", timeout=PAGE_MS)
    assert alice.message_bodies().count(text) == 1


def test_messages_written_offline_go_by_themselves_when_the_network_is_back(open_window):
    alice = open_window("alice")
    bob = open_window("bob")
    alice.start_conversation_with("bob")
    bob.open_conversation("alice")

    alice.page.context.set_offline(True)
    first, second = (f"offline {n} {uuid.uuid4().hex[:6]}" for n in (1, 2))
    alice.send(first)
    expect(alice.message(first)).to_contain_text("Failed", timeout=PAGE_MS)
    alice.message(first).get_by_role("button", name="Retry").click()  # still no network
    expect(alice.message(first)).to_contain_text("Failed", timeout=PAGE_MS)
    alice.send(second)
    expect(alice.message(second)).to_contain_text("Failed", timeout=PAGE_MS)
    banner = alice.page.locator("#error-banner")
    expect(banner).to_contain_text("Your message was not sent")

    alice.page.context.set_offline(False)
    for text in (first, second):
        expect(alice.message(text)).to_contain_text("Sent", timeout=PAGE_MS)
        expect(bob.message(text)).to_be_visible(timeout=LIVE_MS)
    assert bob.message_bodies()[-2:] == [first, second]
    expect(banner).to_be_hidden()  # everything went: the "not sent" news is taken back
