"""Reading a conversation, as people do it in real browser windows against the real server:
history that pages in as one scrolls up, the "New messages" divider, "Jump to latest", read
receipts that follow what was on screen, and catching up on every conversation after a
disconnect."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, Request, expect

from tests.browser.conftest import EMULATED_VISIBILITY, LIVE_MS, PAGE_MS, ChatWindow
from tests.support.clients import ApiClient, StreamReader
from tests.support.servers import ParleyServer
from tests.support.waiting import wait_until

READ_URL = re.compile(r"/api/conversations/\w+/read$")


@pytest.fixture
def api(parley_server: ParleyServer) -> Callable[[str], ApiClient]:
    """``api("alice")`` → alice over the JSON API, to set a scene faster than by typing."""

    def _api(username: str) -> ApiClient:
        return ApiClient(parley_server.url).login(username, parley_server.password)

    return _api


def tag() -> str:
    return uuid.uuid4().hex[:6]


def start_group(client: ApiClient, people: list[str], name: str) -> str:
    created = client.post("/api/conversations", {"participants": people, "friendly_name": name})
    assert created.status_code == 201, created.text
    sid: str = created.json()["conversation"]["sid"]
    return sid


def send_all(client: ApiClient, sid: str, bodies: list[str]) -> list[dict[str, Any]]:
    sent = []
    for body in bodies:
        response = client.send(sid, body)
        assert response.status_code == 201, response.text
        sent.append(response.json()["message"])
    return sent


def read_all(client: ApiClient, sid: str, sent: list[dict[str, Any]]) -> None:
    """Mark a scene's messages read for someone who is not watching, so that their unread
    count (and tab title) stays as other tests expect it."""
    read = client.post(f"/api/conversations/{sid}/read", {"index": sent[-1]["index"]})
    assert read.status_code == 200, read.text


def horizon(client: ApiClient, sid: str, identity: str) -> int:
    conversation = client.get(f"/api/conversations/{sid}").json()["conversation"]
    found: int = conversation["read_horizons"].get(identity, -1)
    return found


def wait_for_horizon(client: ApiClient, sid: str, identity: str, index: int) -> None:
    """Until Twilio has ``identity``'s read horizon at ``index`` (as ``client`` sees it)."""
    wait_until(lambda: horizon(client, sid, identity) == index, PAGE_MS / 1000, "read horizon")


def scroll_history(page: Page, where: str) -> None:
    """Scroll the open history to its "top" or "bottom" (as a wheel or a drag would)."""
    target = "0" if where == "top" else "el.scrollHeight"
    page.locator("#history").evaluate(f"(el) => {{ el.scrollTop = {target}; }}")


def top_in_history(window: ChatWindow, body: str) -> float:
    """Where a message is on screen, relative to the history's visible top."""
    box = window.message(body).bounding_box()
    frame = window.history.bounding_box()
    assert box and frame
    return box["y"] - frame["y"]


def test_older_pages_load_as_the_user_scrolls_up_and_the_view_stays_put(open_window, api):
    alice = api("alice")
    name = f"Long story {tag()}"
    sid = start_group(alice, ["bob"], name)
    bodies = [f"line {n:03d} {name}" for n in range(110)]
    read_all(api("bob"), sid, send_all(alice, sid, bodies))

    window = open_window("alice")
    window.open_conversation(name)
    expect(window.message(bodies[-1])).to_be_in_viewport(timeout=PAGE_MS)
    expect(window.history.locator(".message")).to_have_count(50)

    # At the top, the previous page comes in by itself; the message that was at the top stays
    # where it was on screen, so the reader does not lose their place.
    first_shown = bodies[60]
    offset_in_content = window.message(first_shown).evaluate(
        "(el) => { const history = el.closest('#history');"
        " return el.getBoundingClientRect().top - history.getBoundingClientRect().top"
        " + history.scrollTop; }"
    )
    scroll_history(window.page, "top")
    expect(window.history.locator(".message")).to_have_count(100, timeout=PAGE_MS)
    assert abs(top_in_history(window, first_shown) - offset_in_content) <= 2
    expect(window.message(first_shown)).to_be_in_viewport()

    scroll_history(window.page, "top")
    expect(window.history.locator(".message")).to_have_count(110, timeout=PAGE_MS)
    expect(window.page.get_by_role("button", name="Load older messages")).to_be_hidden()
    assert window.message_bodies()[-110:] == bodies  # in order, nothing twice


def test_the_load_older_button_still_works_from_the_keyboard(open_window, api):
    alice = api("alice")
    name = f"Keyboard {tag()}"
    sid = start_group(alice, ["bob"], name)
    bodies = [f"key {n:03d} {name}" for n in range(60)]
    read_all(api("bob"), sid, send_all(alice, sid, bodies))

    window = open_window("alice")
    window.open_conversation(name)
    expect(window.history.locator(".message")).to_have_count(50, timeout=PAGE_MS)
    older = window.page.get_by_role("button", name="Load older messages")
    older.focus()
    window.page.keyboard.press("Enter")
    expect(window.history.locator(".message")).to_have_count(60, timeout=PAGE_MS)
    assert window.message_bodies() == bodies


def test_opening_with_unread_shows_the_divider_and_reads_only_what_is_on_screen(open_window, api):
    alice, bob_api = api("alice"), api("bob")
    name = f"Catch up {tag()}"
    sid = start_group(alice, ["bob"], name)
    earlier = send_all(alice, sid, [f"earlier {n} {name}" for n in range(10)])
    assert bob_api.post(f"/api/conversations/{sid}/read", {"index": earlier[-1]["index"]}).ok
    unread = send_all(alice, sid, [f"unread {n:02d} {name}" for n in range(30)])

    bob = open_window("bob")
    expect(bob.conversation_link(name)).to_contain_text("30")
    bob.open_conversation(name)

    # The view opens at the first unread message, under a "New messages" divider.
    divider = bob.page.get_by_role("separator", name="New messages")
    expect(divider).to_have_count(1, timeout=PAGE_MS)
    expect(divider).to_be_in_viewport()
    expect(bob.message(unread[0]["body"])).to_be_in_viewport()
    assert bob.page.locator("#messages > *").evaluate_all(
        "(items) => items.findIndex((el) => el.matches('.history-divider'))"
    ) == bob.message_bodies().index(unread[0]["body"])
    expect(bob.message(unread[-1]["body"])).not_to_be_in_viewport()

    # Read means seen: what is on screen counts, not the whole conversation just for opening.
    first_unread = unread[0]["index"]
    seen = wait_until(
        lambda: (h := horizon(alice, sid, "bob")) >= first_unread and h, PAGE_MS / 1000, "read"
    )
    assert seen < unread[-1]["index"]

    jump = bob.page.get_by_role("button", name=re.compile(r"^Jump to latest"))
    expect(jump).to_be_visible()
    expect(jump).to_have_text(re.compile(r"Jump to latest \(\d+ new\)"))

    # A message arriving while scrolled up does not move the view; the count grows.
    scroll_top = bob.page.locator("#history").evaluate("(el) => el.scrollTop")
    before = jump.text_content() or ""
    late = send_all(alice, sid, [f"late {name}"])[0]
    expect(bob.history.get_by_text(late["body"], exact=True)).to_have_count(1, timeout=LIVE_MS)
    expect(jump).not_to_have_text(before)
    assert bob.page.locator("#history").evaluate("(el) => el.scrollTop") == scroll_top

    reads: list[Request] = []
    bob.page.on(
        "request", lambda request: reads.append(request) if READ_URL.search(request.url) else None
    )
    jump.click()
    expect(bob.message(late["body"])).to_be_in_viewport()
    expect(jump).to_be_hidden()
    wait_for_horizon(alice, sid, "bob", late["index"])
    expect(divider).to_have_count(1)  # stays while the conversation is open
    # (Playwright hands over the page's events during its own calls, such as the one above.)
    assert 1 <= len(reads) <= 2, "reads are batched, not one call per message"


def test_one_to_one_shows_seen_under_my_last_message_once_it_was_on_their_screen(open_window):
    alice = open_window("alice")
    bob = open_window("bob")
    alice.start_conversation_with("bob")
    text = f"are you there {tag()}"
    alice.send(text)
    expect(alice.message(text)).to_contain_text("Sent", timeout=LIVE_MS)
    expect(alice.message(text)).not_to_contain_text("Seen")

    bob.open_conversation("alice")
    expect(bob.message(text)).to_be_visible(timeout=LIVE_MS)
    expect(alice.message(text).locator(".message__receipt")).to_have_text("Seen", timeout=LIVE_MS)
    # Only the newest message that was read carries it.
    expect(alice.history.locator(".message__receipt:visible")).to_have_count(1)

    newer = f"and now {tag()}"
    alice.send(newer)
    # Bob has the conversation open and in view: the new one is read at once, the receipt moves.
    expect(alice.message(newer).locator(".message__receipt")).to_have_text("Seen", timeout=LIVE_MS)
    expect(alice.history.locator(".message__receipt:visible")).to_have_count(1)


def test_a_group_shows_who_has_read_my_message_live(open_window, api):
    name = f"Readers {tag()}"
    start_group(api("alice"), ["bob", "carol"], name)
    alice, bob, carol = open_window("alice"), open_window("bob"), open_window("carol")
    alice.open_conversation(name)
    text = f"hello all {tag()}"
    alice.send(text)
    receipt = alice.message(text).locator(".message__receipt")
    expect(alice.message(text)).to_contain_text("Sent", timeout=LIVE_MS)
    expect(receipt).to_be_hidden()

    bob.open_conversation(name)
    expect(receipt).to_have_text("Seen by bob", timeout=LIVE_MS)
    carol.open_conversation(name)
    expect(receipt).to_have_text("Seen by bob, carol", timeout=LIVE_MS)

    # The receipt survives a reload: it comes from Twilio's read horizons, not from the page.
    alice.page.reload()
    expect(alice.message(text).locator(".message__receipt")).to_have_text(
        "Seen by bob, carol", timeout=PAGE_MS
    )


def test_after_a_disconnect_every_conversation_catches_up_without_duplicates(open_window, api):
    alice = api("alice")
    first, second = f"Trip {tag()}", f"Books {tag()}"
    first_sid = start_group(alice, ["bob"], first)
    second_sid = start_group(alice, ["bob"], second)

    bob = open_window("bob")
    bob.open_conversation(first)
    expect(bob.conversation_link(second)).to_be_visible()
    banner = bob.page.locator("#connection-banner")
    expect(banner).to_be_hidden(timeout=PAGE_MS)

    # Bob's page goes away from the network: its stream closes (as when the tab is frozen or
    # put in the back/forward cache) and nothing reaches it until it is back online.
    bob.page.evaluate("() => window.dispatchEvent(new PageTransitionEvent('pagehide'))")
    bob.page.context.set_offline(True)
    bob_api = api("bob")
    bob_elsewhere = StreamReader(bob_api, bob_api.stream_cursor())  # bob's other, online device
    sent_first = send_all(alice, first_sid, [f"first while away {tag()}"])
    sent_second = send_all(alice, second_sid, [f"b{n} {tag()}" for n in (1, 2)])
    in_first, in_second = sent_first[0]["body"], [m["body"] for m in sent_second]
    bob_elsewhere.wait_for("message_added", lambda d: d["message"]["body"] == in_second[-1])
    bob_elsewhere.close()
    # Published to bob by now, yet not on the offline page.
    expect(bob.page.get_by_text(in_first, exact=True)).to_have_count(0)
    expect(bob.conversation_link(second)).not_to_contain_text(in_second[-1])

    bob.page.context.set_offline(False)  # "online": the stream reopens from its last good id

    expect(bob.message(in_first)).to_be_visible(timeout=PAGE_MS)
    expect(bob.conversation_link(second)).to_contain_text(in_second[-1], timeout=LIVE_MS)
    expect(bob.conversation_link(second).locator(".badge")).to_contain_text("2")
    expect(bob.conversation_link(first)).to_contain_text(in_first)
    expect(banner).to_be_hidden()
    assert bob.message_bodies().count(in_first) == 1

    bob.open_conversation(second)
    expect(bob.message(in_second[-1])).to_be_visible(timeout=PAGE_MS)
    assert bob.message_bodies()[-2:] == in_second
    wait_for_horizon(alice, first_sid, "bob", sent_first[-1]["index"])
    wait_for_horizon(alice, second_sid, "bob", sent_second[-1]["index"])


def test_reading_on_one_device_clears_the_unread_count_on_the_other(open_window, api):
    alice = api("alice")
    name = f"Two devices {tag()}"
    sid = start_group(alice, ["bob"], name)
    phone, laptop = open_window("bob"), open_window("bob")
    sent = send_all(alice, sid, [f"ping {n} {name}" for n in range(3)])
    for window in (phone, laptop):
        expect(window.conversation_link(name).locator(".badge")).to_contain_text(
            "3", timeout=LIVE_MS
        )

    phone.open_conversation(name)
    expect(phone.message(sent[-1]["body"])).to_be_in_viewport(timeout=PAGE_MS)

    # The laptop hears of the read through Twilio (participant_read), not by reloading.
    expect(laptop.conversation_link(name).locator(".badge")).to_be_hidden(timeout=LIVE_MS)


def test_a_message_that_arrives_in_a_hidden_tab_is_read_only_once_the_tab_is_seen(
    open_window, api, parley_server
):
    alice = api("alice")
    name = f"Hidden tab {tag()}"
    sid = start_group(alice, ["bob"], name)
    bob = open_window()
    bob.page.add_init_script(EMULATED_VISIBILITY)
    bob.log_in("bob", parley_server.password)
    bob.open_conversation(name)
    bob.page.evaluate("() => window.__setHidden(true)")
    alice_stream = StreamReader(alice, alice.stream_cursor())

    sent = send_all(alice, sid, [f"while you were away {tag()}"])[0]
    expect(bob.message(sent["body"])).to_be_visible(timeout=LIVE_MS)  # on the page, unseen
    receipts = [e for e in alice_stream.drain(1.5) if e.event == "participant_read"]
    assert not receipts, "a hidden tab does not read"

    bob.page.evaluate("() => window.__setHidden(false)")
    got = alice_stream.wait_for("participant_read", lambda d: d["identity"] == "bob")
    assert got.data == {
        "conversation_sid": sid,
        "identity": "bob",
        "last_read_message_index": sent["index"],
    }
    alice_stream.close()
