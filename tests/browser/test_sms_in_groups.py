"""A phone number in a group, as two chat users see it in separate windows: added by SMS with a
badge, texted the group's messages (the emulator's outbox), texting back live, removed."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LIVE_MS, PAGE_MS, ChatWindow
from tests.integration.test_sms_groups import (
    new_phone,
    outbox,
    start_group,
)
from tests.support.clients import ApiClient, text_from_phone
from tests.support.servers import ParleyServer
from tests.support.waiting import wait_until


@pytest.fixture
def parley_server(sms_parley_server: ParleyServer) -> ParleyServer:
    """Parley with a Twilio number, so groups can take SMS participants."""
    return sms_parley_server


def group_name(sid: str, client: ApiClient) -> str:
    conversation = client.get(f"/api/conversations/{sid}").json()["conversation"]
    name: str = conversation["friendly_name"]
    return name


def add_person(window: ChatWindow, value: str) -> None:
    window.page.get_by_role("button", name="Add person").click()
    dialog = window.page.get_by_role("dialog", name="Add person")
    expect(dialog.get_by_text("joins by SMS")).to_be_visible()
    dialog.get_by_label("Username or phone number").fill(value)
    dialog.get_by_role("button", name="Add").click()


def test_a_phone_joins_gets_texts_texts_back_and_is_removed_live(
    open_window, login, parley_server: ParleyServer
) -> None:
    alice_api = login("alice")
    sid = start_group(alice_api, ["bob"])
    name = group_name(sid, alice_api)
    alice, bob = open_window("alice"), open_window("bob")
    alice.open_conversation(name)
    bob.open_conversation(name)
    phone = new_phone()

    # A malformed number is refused in the dialog, in words.
    add_person(alice, "+12")
    dialog = alice.page.get_by_role("dialog", name="Add person")
    expect(dialog.get_by_role("alert")).to_contain_text("E.164", timeout=PAGE_MS)
    dialog.get_by_label("Username or phone number").fill(phone)
    dialog.get_by_role("button", name="Add").click()
    expect(dialog).to_be_hidden(timeout=PAGE_MS)

    for window, note in ((alice, f"You added {phone}"), (bob, f"alice added {phone}")):
        phones = window.page.get_by_role("list", name="Text message participants")
        expect(phones.get_by_role("listitem")).to_have_text(f"{phone}SMSRemove", timeout=LIVE_MS)
        expect(window.history.get_by_text(note, exact=True)).to_be_visible(timeout=LIVE_MS)
        expect(window.page.locator("#pane-subtitle")).not_to_contain_text(phone)

    to_phone = f"dinner at 8 {uuid.uuid4().hex[:6]}"
    bob.send(to_phone)
    wait_until(
        lambda: any(m["to"] == phone and m["body"] == to_phone for m in outbox(parley_server)),
        5,
        "bob's message to reach the phone by SMS",
    )

    reply = f"on my way {uuid.uuid4().hex[:6]}"
    text_from_phone(parley_server, phone, sid, reply)
    for window in (alice, bob):
        message = window.message(reply)
        expect(message).to_be_visible(timeout=LIVE_MS)
        expect(message.locator(".message__author")).to_have_text(phone)
        expect(message.get_by_text("SMS", exact=True)).to_be_visible()
        expect(window.conversation_link(name)).to_contain_text(f"{phone} (SMS): {reply}")

    bob.page.once("dialog", lambda confirm: confirm.accept())
    bob.page.get_by_role("button", name=f"Remove {phone}").click()
    expect(bob.history.get_by_text(f"You removed {phone}", exact=True)).to_be_visible(
        timeout=LIVE_MS
    )
    expect(alice.history.get_by_text(f"bob removed {phone}", exact=True)).to_be_visible(
        timeout=LIVE_MS
    )
    for window in (alice, bob):
        phones = window.page.get_by_role("list", name="Text message participants")
        expect(phones).to_be_hidden(timeout=LIVE_MS)


def test_a_whatsapp_user_is_added_from_the_page_with_its_badge_and_removed(
    open_window, login, parley_server: ParleyServer
) -> None:
    alice_api = login("alice")
    sid = start_group(alice_api, ["bob"])
    name = group_name(sid, alice_api)
    alice, bob = open_window("alice"), open_window("bob")
    alice.open_conversation(name)
    bob.open_conversation(name)
    address = f"whatsapp:{new_phone()}"

    add_person(alice, address)
    expect(alice.page.get_by_role("dialog", name="Add person")).to_be_hidden(timeout=PAGE_MS)
    for window in (alice, bob):
        phones = window.page.get_by_role("list", name="Text message participants")
        expect(phones.get_by_role("listitem")).to_have_text(
            f"{address}WhatsAppRemove", timeout=LIVE_MS
        )
        expect(phones.get_by_title("Joins by WhatsApp")).to_be_visible()

    to_phone = f"picnic {uuid.uuid4().hex[:6]}"
    bob.send(to_phone)
    wait_until(
        lambda: any(m["to"] == address and m["body"] == to_phone for m in outbox(parley_server)),
        5,
        "bob's message to reach the WhatsApp user",
    )

    bob.page.once("dialog", lambda confirm: confirm.accept())
    bob.page.get_by_role("button", name=f"Remove {address}").click()
    expect(alice.history.get_by_text(f"bob removed {address}", exact=True)).to_be_visible(
        timeout=LIVE_MS
    )
