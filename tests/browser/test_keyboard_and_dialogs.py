"""Details a demanding user notices: message actions that appear for the mouse and for the
keyboard, and the group dialog's errors (shown in words, on the field, closed with Escape)."""

from __future__ import annotations

import uuid

from playwright.sync_api import Locator, expect

from tests.browser.conftest import LIVE_MS, PAGE_MS
from tests.browser.test_typing_presence import new_user


def test_edit_and_delete_appear_on_hover_and_on_keyboard_focus(open_window, login):
    alice_api = login("alice")
    sid = alice_api.start_dm("bob")["sid"]
    body = f"actions {uuid.uuid4().hex[:6]}"
    assert alice_api.send(sid, body).status_code == 201
    alice = open_window("alice")
    alice.open_conversation("bob")
    message = alice.message(body)
    edit = message.get_by_role("button", name="Edit")
    actions = message.locator(".message__actions")  # Edit and Delete show or fade together
    expect(message).to_be_visible(timeout=PAGE_MS)

    # With a mouse elsewhere, the history is not a column of buttons.
    alice.page.get_by_role("heading", name="Conversations").hover()
    expect(actions).to_have_css("opacity", "0")
    message.hover()
    expect(actions).to_have_css("opacity", "1")

    # Keyboard only: Shift+Tab from the composer reaches the newest message's buttons, which
    # show while they hold focus.
    alice.page.get_by_role("heading", name="Conversations").hover()
    alice.page.get_by_role("textbox", name="Message").focus()
    alice.page.keyboard.press("Shift+Tab")
    delete = message.get_by_role("button", name="Delete")
    expect(delete).to_be_focused()
    expect(actions).to_have_css("opacity", "1")
    alice.page.keyboard.press("Shift+Tab")
    expect(edit).to_be_focused()
    alice.page.keyboard.press("Enter")
    editor = message.get_by_role("textbox", name="Edit message")
    expect(editor).to_be_focused()
    alice.page.keyboard.press("Escape")
    expect(editor).to_be_hidden()
    expect(edit).to_be_focused()


def test_add_person_explains_what_is_wrong_on_the_field_and_escape_closes_it(open_window, login):
    name = f"Polish {uuid.uuid4().hex[:6]}"
    created = login("alice").post(
        "/api/conversations", {"participants": ["bob"], "friendly_name": name}
    )
    assert created.status_code == 201, created.text
    alice = open_window("alice")
    alice.open_conversation(name)
    opener = alice.page.get_by_role("button", name="Add person")
    opener.click()
    dialog = alice.page.get_by_role("dialog", name="Add person")
    field = dialog.get_by_label("Username or phone number")

    dialog.get_by_role("button", name="Add").click()  # nothing typed
    expect(dialog.get_by_role("alert")).to_have_text("Username or phone number cannot be empty.")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_be_focused()

    field.fill(f"nobody-{uuid.uuid4().hex[:6]}")
    field.press("Enter")
    expect(dialog.get_by_role("alert")).to_contain_text("no user", timeout=LIVE_MS)
    expect(field).to_have_attribute("aria-invalid", "true")

    alice.page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()

    opener.click()  # asked again: a clean field, no old error
    expect(dialog.get_by_role("alert")).to_be_hidden()
    expect(field).not_to_have_attribute("aria-invalid", "true")


def test_seen_takes_the_place_of_sent_under_a_message(open_window, login):
    login("alice").start_dm("bob")
    alice, bob = open_window("alice"), open_window("bob")
    alice.open_conversation("bob")
    text = f"one line of status {uuid.uuid4().hex[:6]}"
    alice.send(text)
    message = alice.message(text)
    status = message.locator(".message__status")
    expect(status.locator(".message__status-text")).to_have_text("Sent", timeout=LIVE_MS)
    assert not _clipped_away(status)

    bob.open_conversation("alice")
    expect(message.locator(".message__receipt")).to_have_text("Seen", timeout=LIVE_MS)
    # "Sent" stays for screen readers only: never "Sent" and "Seen" side by side on screen.
    assert _clipped_away(status)


def _clipped_away(locator: Locator) -> bool:
    """Out of the layout and clipped to nothing: there for screen readers, not for eyes."""
    return bool(
        locator.evaluate(
            """(el) => {
                const style = getComputedStyle(el);
                return style.position === 'absolute' && style.clip === 'rect(0px, 0px, 0px, 0px)';
            }"""
        )
    )


def test_a_message_from_another_day_shows_its_day(open_window):
    window = open_window()
    window.page.goto(window.base_url + "/login")
    today, other_day = window.page.evaluate(
        """async () => {
            const { shortTime } = await import('/static/js/format.js');
            const now = new Date(2026, 10, 25, 15, 0);
            return [shortTime(new Date(2026, 10, 25, 10, 42).toISOString(), now),
                    shortTime(new Date(2026, 10, 20, 10, 42).toISOString(), now)];
        }"""
    )
    assert "10:42" in today and "20" not in today
    assert "10:42" in other_day and "Nov 20" in other_day


def test_a_new_conversation_invites_a_first_message(open_window, parley_server):
    other = new_user(parley_server, "quiet")
    alice = open_window("alice")
    alice.start_conversation_with(other)
    empty = alice.history.get_by_text("No messages yet. Say hello!")
    expect(empty).to_be_visible(timeout=PAGE_MS)
    alice.send("hello there")
    expect(alice.message("hello there")).to_be_visible(timeout=LIVE_MS)
    expect(empty).to_be_hidden()
