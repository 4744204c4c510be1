"""Muting a group in the browser: the menu in its header, the mark in the list, the unread
count still shown but dimmed, no notification while muted; the same user's other browser
sees the mute (and the unmute) live, and unmuting brings notifications back."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import LIVE_MS, PAGE_MS, ChatWindow
from tests.browser.test_accessibility import serious_violations
from tests.browser.test_links_and_notifications import (
    NOTIFICATION_RECORDER,
    custom_window,  # noqa: F401  (a fixture this module uses)
    wait_for_notifications,
)
from tests.support.clients import ApiClient
from tests.support.servers import ParleyServer


def mute_mark(window: ChatWindow, name: str) -> Any:
    return window.conversation_link(name).get_by_role("img", name="Muted")


def test_a_muted_group_shows_its_count_dimmed_and_raises_no_notification(
    open_window: Any,
    custom_window: Any,  # noqa: F811
    parley_server: ParleyServer,
) -> None:
    alice = ApiClient(parley_server.url).login("alice", parley_server.password)
    name = f"Loud group {uuid.uuid4().hex[:6]}"
    body = {"participants": ["bob", "carol"], "friendly_name": name}
    sid = alice.post("/api/conversations", body).json()["conversation"]["sid"]
    assert alice.send(sid, "welcome").status_code == 201
    bob, _ = custom_window("bob", ["notifications"], NOTIFICATION_RECORDER)
    bobs_phone = open_window("bob")  # another browser of the same user
    expect(bobs_phone.conversation_link(name)).to_be_visible(timeout=LIVE_MS)

    bob.open_conversation(name)
    bob.page.get_by_role("button", name="Mute this conversation").click()
    expect(bob.page.get_by_role("button", name="For 1 hour")).to_be_focused()
    assert serious_violations(bob.page) == []  # the menu open
    bob.page.get_by_role("button", name="For 1 hour").click()

    expect(bob.page.get_by_role("button", name="Muted until")).to_be_visible(timeout=PAGE_MS)
    expect(mute_mark(bob, name)).to_be_visible()
    expect(bob.page.get_by_role("button", name="Muted until")).to_be_focused()
    assert serious_violations(bob.page) == []  # the list's mark, the header's status
    expect(mute_mark(bobs_phone, name)).to_be_visible(timeout=LIVE_MS)  # live, no reload

    bob.page.evaluate("__setHidden(true)")
    quiet = f"while muted {uuid.uuid4().hex[:6]}"
    assert alice.send(sid, quiet).status_code == 201
    row = bob.conversation_link(name)
    expect(row).to_contain_text(quiet, timeout=LIVE_MS)
    badge = row.locator(".badge")
    expect(badge).to_be_visible()
    expect(badge).to_contain_text("1")
    expect(row).to_have_class(re.compile(r"\bconversation--muted\b"))
    accent = bob.page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()"
    )
    dimmed = badge.evaluate("(el) => getComputedStyle(el).backgroundColor")
    assert dimmed != accent and "rgb(226, 229, 235)" == dimmed  # var(--border), not the accent
    expect(bobs_phone.conversation_link(name)).to_contain_text(quiet, timeout=LIVE_MS)
    assert bob.page.evaluate("window.__notifications.length") == 0

    # Unmuted on the other browser: this one hears it live and notifies again.
    bobs_phone.open_conversation(name)
    bobs_phone.page.get_by_role("button", name="Muted until").click()
    expect(bobs_phone.page.get_by_text("Muted until")).to_be_visible()  # the menu says so
    bobs_phone.page.get_by_role("button", name="Unmute").click()
    expect(mute_mark(bobs_phone, name)).to_be_hidden(timeout=PAGE_MS)
    expect(mute_mark(bob, name)).to_be_hidden(timeout=LIVE_MS)
    loud = f"after unmute {uuid.uuid4().hex[:6]}"
    assert alice.send(sid, loud).status_code == 201
    wait_for_notifications(bob, 1)
    assert bob.page.evaluate("window.__notifications[0].body") == loud
