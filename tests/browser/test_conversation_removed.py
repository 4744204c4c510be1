"""A conversation deleted in Twilio (its console, another backend), as two open pages see it:
it leaves the list, an open pane says so, and the stream goes on carrying live events."""

from __future__ import annotations

import uuid

from playwright.sync_api import Request, expect

from tests.browser.conftest import LIVE_MS, PAGE_MS
from tests.support.clients import ApiClient, delete_in_twilio
from tests.support.servers import ParleyServer


def start_group(client: ApiClient, people: list[str]) -> tuple[str, str]:
    name = f"Doomed {uuid.uuid4().hex[:6]}"
    created = client.post("/api/conversations", {"participants": people, "friendly_name": name})
    assert created.status_code == 201, created.text
    return created.json()["conversation"]["sid"], name


def test_a_deleted_conversation_leaves_the_page_and_the_stream_stays_live(
    open_window, login, parley_server: ParleyServer
) -> None:
    alice_api = login("alice")
    sid, name = start_group(alice_api, ["bob"])
    sent = alice_api.post(f"/api/conversations/{sid}/messages", {"body": "soon gone"})
    assert sent.status_code == 201, sent.text

    alice = open_window("alice")
    bob = open_window()
    bob_streams: list[Request] = []
    bob.page.on("request", lambda r: bob_streams.append(r) if "/stream?" in r.url else None)
    bob.log_in("bob", parley_server.password)
    alice.open_conversation(name)
    expect(bob.conversation_link(name)).to_have_count(1, timeout=PAGE_MS)

    delete_in_twilio(parley_server, sid)
    for window in (alice, bob):
        expect(window.conversation_link(name)).to_have_count(0, timeout=LIVE_MS)
    expect(alice.page.get_by_role("heading", name="This conversation was deleted")).to_be_visible()
    expect(alice.page.get_by_role("textbox", name="Message")).to_be_hidden()

    # The next event reaches the page live: the removal moved the page's cursor on, so no gap.
    _, later = start_group(alice_api, ["bob"])
    expect(bob.conversation_link(later)).to_have_count(1, timeout=LIVE_MS)
    assert len(bob_streams) == 1, [r.url for r in bob_streams]


def test_a_conversation_gone_without_a_word_leaves_the_page_at_the_next_call_about_it(
    open_window, login, parley_server: ParleyServer
) -> None:
    """Deleted while no removal reaches the page (webhooks off): the next call about it answers
    404, and the page drops it as a removal would, instead of keeping a conversation whose
    sends all fail."""
    alice_api = login("alice")
    sid, name = start_group(alice_api, ["bob"])
    alice = open_window("alice")
    alice.open_conversation(name)

    delete_in_twilio(parley_server, sid, webhooks=False)
    alice.send("anyone there?")
    expect(alice.conversation_link(name)).to_have_count(0, timeout=LIVE_MS)
    expect(alice.page.get_by_role("heading", name="Conversation not found")).to_be_visible()
