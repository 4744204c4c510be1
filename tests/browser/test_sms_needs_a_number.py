"""Without TWILIO_PHONE_NUMBER, adding a phone to a group explains in the dialog what is missing."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import PAGE_MS


def test_adding_a_phone_says_sms_needs_a_twilio_number(open_window: Any, login: Any) -> None:
    name = f"No SMS {uuid.uuid4().hex[:6]}"
    created = login("alice").post(
        "/api/conversations", {"participants": ["bob"], "friendly_name": name}
    )
    assert created.status_code == 201, created.text
    alice = open_window("alice")
    alice.open_conversation(name)

    alice.page.get_by_role("button", name="Add person").click()
    dialog = alice.page.get_by_role("dialog", name="Add person")
    dialog.get_by_label("Username or phone number").fill("+15551234567")
    dialog.get_by_role("button", name="Add").click()

    expect(dialog.get_by_role("alert")).to_contain_text("TWILIO_PHONE_NUMBER", timeout=PAGE_MS)
    expect(dialog).to_be_visible()  # still open, to fix or cancel
    expect(alice.page.get_by_role("list", name="Text message participants")).to_be_hidden()
