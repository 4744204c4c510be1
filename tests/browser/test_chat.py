"""Parley v0 as two people try it in two browser windows, against the real server."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from tests.browser.conftest import LIVE_MS, PAGE_MS


def _title(unread: int) -> str:
    return f"({unread}) Parley" if unread else "Parley"


def _unread_in_title(window) -> int:
    """What other tests on the shared server left unread for this user (the title counts)."""
    match = re.fullmatch(r"\((\d+)\) Parley", window.page.title())
    return int(match.group(1)) if match else 0


def test_two_people_chat_live_and_history_survives_reload(open_window):
    alice = open_window("alice")
    bob = open_window("bob")

    alice.start_conversation_with("bob")
    # Bob's list shows the new conversation at once, without a reload.
    expect(bob.conversation_link("alice")).to_be_visible(timeout=LIVE_MS)
    before = {"alice": _unread_in_title(alice), "bob": _unread_in_title(bob)}

    alice.send("hi")
    expect(bob.conversation_link("alice")).to_contain_text("hi", timeout=LIVE_MS)
    expect(bob.page).to_have_title(_title(before["bob"] + 1))
    expect(bob.page.locator("#announcer")).to_contain_text("New message from alice")

    bob.open_conversation("alice")
    expect(bob.message("hi")).to_be_visible(timeout=LIVE_MS)
    expect(bob.page).to_have_title(_title(before["bob"]))
    # "Sent" comes from the stream event carrying this message's client_id.
    expect(alice.message("hi")).to_contain_text("Sent", timeout=LIVE_MS)

    # Alice has the conversation open, so the reply is read at once (and the server told so).
    with alice.page.expect_response(re.compile(r"/api/conversations/\w+/read$"), timeout=LIVE_MS):
        bob.send("hello alice")
        expect(alice.message("hello alice")).to_be_visible(timeout=LIVE_MS)
    expect(bob.message("hello alice")).to_contain_text("Sent", timeout=LIVE_MS)

    for name, window in (("alice", alice), ("bob", bob)):
        window.page.reload()
        expect(window.message("hello alice")).to_be_visible(timeout=PAGE_MS)
        assert window.message_bodies()[-2:] == ["hi", "hello alice"]
        # Nothing of this conversation is unread after the reload.
        expect(window.page).to_have_title(_title(before[name]))


def test_outsider_cannot_see_or_open_a_conversation(open_window, parley_server):
    alice = open_window("alice")
    sid = alice.start_conversation_with("bob")
    secret = f"meet at noon {uuid.uuid4().hex[:8]}"
    alice.send(secret)
    expect(alice.message(secret)).to_contain_text("Sent", timeout=LIVE_MS)

    carol = open_window("carol")
    expect(carol.conversation_list.locator(f'a[href$="/c/{sid}"]')).to_have_count(0)
    expect(carol.page.get_by_text(secret)).to_have_count(0)

    carol.page.goto(f"{parley_server.url}/c/{sid}")
    expect(carol.page.get_by_role("heading", name="Conversation not found")).to_be_visible(
        timeout=PAGE_MS
    )
    expect(carol.page.get_by_text(secret)).to_have_count(0)

    api = carol.page.request
    assert api.get(f"{parley_server.url}/api/conversations/{sid}/messages").status == 404
    csrf = carol.page.locator('meta[name="csrf-token"]').get_attribute("content")
    refused = api.post(
        f"{parley_server.url}/api/conversations/{sid}/messages",
        data={"body": "let me in", "client_id": str(uuid.uuid4())},
        headers={"X-CSRFToken": csrf or ""},
    )
    assert refused.status in (403, 404)


def test_wrong_password_is_refused_readably_and_the_server_keeps_serving(
    open_window, parley_server
):
    window = open_window()
    window.submit_login("alice", "not-the-password")
    expect(window.page.get_by_role("alert")).to_have_text("Invalid username or password.")
    expect(window.page.get_by_role("button", name="Log out")).to_have_count(0)

    window.submit_login("nobody-here", "whatever-password")
    expect(window.page.get_by_role("alert")).to_have_text("Invalid username or password.")

    window.log_in("alice", parley_server.password)
    expect(window.page.get_by_role("button", name="New conversation")).to_be_visible()


def test_markup_in_a_message_is_shown_as_text(open_window):
    alice = open_window("alice")
    carol = open_window("carol")
    dialogs: list[str] = []
    for window in (alice, carol):
        window.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    alice.start_conversation_with("carol")
    carol.open_conversation("alice")
    payload = "<script>alert(1)</script> <img src=x onerror=alert(1)>"
    alice.send(payload)

    expect(alice.message(payload)).to_contain_text("Sent", timeout=LIVE_MS)
    expect(carol.message(payload)).to_be_visible(timeout=LIVE_MS)
    expect(carol.conversation_link("alice")).to_contain_text("<img src=x onerror=alert(1)>")
    for window in (alice, carol):
        expect(window.message(payload).locator(".message__body")).to_have_text(payload)
        expect(window.page.locator("#app img, #app script")).to_have_count(0)
    assert dialogs == []
