"""Editing and deleting one's messages, and groups, as people see them in separate windows."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from tests.browser.conftest import LIVE_MS, PAGE_MS, ChatWindow


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:6]}"


def accept_next_confirm(window: ChatWindow) -> None:
    window.page.once("dialog", lambda dialog: dialog.accept())


def test_an_edit_and_a_delete_reach_the_other_window_live(open_window):
    alice = open_window("alice")
    bob = open_window("bob")
    alice.start_conversation_with("bob")
    bob.open_conversation("alice")

    typo = unique("see you at 5")
    alice.send(typo)
    expect(alice.message(typo)).to_contain_text("Sent", timeout=LIVE_MS)
    expect(bob.message(typo)).to_be_visible(timeout=LIVE_MS)
    # Only the author may change a message.
    expect(bob.message(typo).get_by_role("button", name="Edit")).to_have_count(0)
    expect(bob.message(typo).get_by_role("button", name="Delete")).to_have_count(0)

    fixed = unique("see you at 6")
    alice.message(typo).get_by_role("button", name="Edit").click()
    alice.page.get_by_role("textbox", name="Edit message").fill(fixed)
    alice.page.get_by_role("button", name="Save").click()
    expect(bob.message(fixed)).to_contain_text("(edited)", timeout=LIVE_MS)
    expect(bob.history.get_by_text(typo, exact=True)).to_have_count(0)
    expect(alice.message(fixed)).to_contain_text("(edited)")

    accept_next_confirm(alice)
    alice.message(fixed).get_by_role("button", name="Delete").click()
    for window in (alice, bob):
        expect(window.history.get_by_text(fixed, exact=True)).to_have_count(0, timeout=LIVE_MS)
        expect(window.history.get_by_text("This message was deleted")).to_be_visible()
    expect(bob.conversation_link("alice")).to_contain_text("This message was deleted")


def test_a_group_is_made_renamed_grown_and_left_live_in_three_windows(open_window):
    alice = open_window("alice")
    bob = open_window("bob")
    carol = open_window("carol")

    name = unique("Trip")
    alice.create_group(name, "bob")
    expect(bob.conversation_link(name)).to_be_visible(timeout=LIVE_MS)
    bob.open_conversation(name)

    renamed = unique("Ski trip")
    bob.page.get_by_role("button", name="Rename").click()
    rename = bob.page.get_by_role("dialog", name="Rename group")
    rename.get_by_label("Group name").fill(renamed)
    rename.get_by_role("button", name="Save").click()
    expect(rename).to_be_hidden(timeout=PAGE_MS)
    expect(alice.page.get_by_role("heading", name=renamed, exact=True)).to_be_visible(
        timeout=LIVE_MS
    )
    expect(alice.conversation_link(renamed)).to_be_visible()

    alice.page.get_by_role("button", name="Add person").click()
    add = alice.page.get_by_role("dialog", name="Add person")
    add.get_by_label("Username").fill("carol")
    add.get_by_role("button", name="Add").click()
    expect(add).to_be_hidden(timeout=PAGE_MS)
    expect(carol.conversation_link(renamed)).to_be_visible(timeout=LIVE_MS)
    # "alice added carol" once the webhook passes the participant's attributes on.
    expect(bob.history).to_contain_text(
        re.compile(r"alice added carol|carol joined"), timeout=LIVE_MS
    )
    expect(bob.page.locator("#pane-subtitle")).to_have_text("You, alice, carol")
    expect(alice.history.get_by_text("You added carol", exact=True)).to_be_visible()

    carol.open_conversation(renamed)
    accept_next_confirm(carol)
    carol.page.get_by_role("button", name="Leave").click()
    expect(carol.conversation_link(renamed)).to_have_count(0, timeout=LIVE_MS)
    expect(bob.history.get_by_text("carol left", exact=True)).to_be_visible(timeout=LIVE_MS)
    expect(bob.page.locator("#pane-subtitle")).to_have_text("You, alice")


def test_a_member_removes_someone_and_they_are_told_live(open_window):
    alice = open_window("alice")
    bob = open_window("bob")
    carol = open_window("carol")
    name = unique("Choir")
    alice.create_group(name, "bob, carol")
    expect(bob.conversation_link(name)).to_be_visible(timeout=LIVE_MS)
    bob.open_conversation(name)
    expect(carol.conversation_link(name)).to_be_visible(timeout=LIVE_MS)
    carol.open_conversation(name)

    alice.page.get_by_role("button", name="Remove person").click()
    remove = alice.page.get_by_role("dialog", name="Remove person")
    remove.get_by_label("Username or phone number").fill("dave-is-not-here")
    remove.get_by_role("button", name="Remove").click()
    expect(remove.get_by_role("alert")).to_be_visible(timeout=PAGE_MS)  # readable refusal
    remove.get_by_label("Username or phone number").fill("carol")
    remove.get_by_role("button", name="Remove").click()
    expect(remove).to_be_hidden(timeout=PAGE_MS)

    expect(alice.history.get_by_text("You removed carol")).to_be_visible(timeout=LIVE_MS)
    expect(bob.history.get_by_text("alice removed carol")).to_be_visible(timeout=LIVE_MS)
    expect(carol.page.get_by_text(f"alice removed you from {name}.")).to_be_visible(timeout=LIVE_MS)
    expect(carol.conversation_link(name)).to_have_count(0)
    expect(carol.page.get_by_text("Conversation not found")).to_be_visible()
