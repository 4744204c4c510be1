"""axe-core on every page a person meets: 0 serious or critical violations. The chat page's
live parts are checked by what a screen reader is given: the history is a log, and a new
message is announced with its text."""

from __future__ import annotations

import uuid
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import LIVE_MS, PAGE_MS

#: axe-core, vendored with its licence (see vendor/axe-core/README.md).
AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
#: A phone: its width, and a touch screen (the message actions show without hovering).
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def serious_violations(page: Page) -> list[str]:
    """axe's serious and critical findings on the page as it is now, one line each.

    The script goes in through the DevTools protocol (``evaluate``), which the page's CSP does
    not govern: a <script> tag would be refused, and the CSP stays on for this test too.
    Motion is reduced (the page honours it) so that a fade under the pointer, caught half-way,
    is not measured as faint text."""
    page.emulate_media(reduced_motion="reduce")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SOURCE)
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def test_login_and_register_pages_pass_axe(open_window, parley_server):
    window = open_window()
    window.page.goto(parley_server.url + "/login")
    assert serious_violations(window.page) == []
    window.submit_login("alice", "not-the-password")
    expect(window.page.get_by_role("alert")).to_be_visible()
    assert serious_violations(window.page) == []
    window.page.goto(parley_server.url + "/register")
    expect(window.page.get_by_role("heading", name="Create your Parley account")).to_be_visible()
    assert serious_violations(window.page) == []

    # The check itself works: a button without a name is a critical finding.
    window.page.evaluate(
        "() => document.querySelector('form').append(document.createElement('button'))"
    )
    assert any(
        line.startswith("button-name (critical)") for line in serious_violations(window.page)
    )


def test_chat_page_and_its_dialogs_pass_axe(open_window):
    alice = open_window("alice")
    assert serious_violations(alice.page) == []
    alice.create_group(f"Axe {uuid.uuid4().hex[:6]}", "bob, carol")
    alice.send("hello, group")
    expect(alice.message("hello, group")).to_contain_text("Sent", timeout=LIVE_MS)
    assert serious_violations(alice.page) == []

    alice.page.get_by_role("button", name="Add person").click()
    expect(alice.page.get_by_role("dialog", name="Add person")).to_be_visible()
    assert serious_violations(alice.page) == []
    alice.page.keyboard.press("Escape")

    alice.page.get_by_role("button", name="New conversation").click()
    dialog = alice.page.get_by_role("dialog", name="New conversation")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Name or username").fill("bo")
    expect(dialog.get_by_role("button", name="bob", exact=True)).to_be_visible(timeout=PAGE_MS)
    assert serious_violations(alice.page) == []


def test_chat_page_at_phone_width_passes_axe(open_window):
    alice = open_window("alice", device=PHONE)
    alice.start_conversation_with("carol")
    alice.send("from my phone")
    expect(alice.message("from my phone")).to_contain_text("Sent", timeout=LIVE_MS)
    assert serious_violations(alice.page) == []  # one conversation, full screen
    alice.page.get_by_role("button", name="‹ Conversations").click()
    expect(alice.conversation_list).to_be_visible()
    assert serious_violations(alice.page) == []  # the list
    alice.page.get_by_role("button", name="New conversation").click()
    expect(alice.page.get_by_text("Type at least two letters of a name.")).to_be_visible()
    assert serious_violations(alice.page) == []  # a dialog on a small screen


def test_history_is_a_log_and_new_messages_are_announced_with_their_text(open_window):
    alice = open_window("alice")
    bob = open_window("bob")
    alice.start_conversation_with("bob")
    expect(alice.page.get_by_role("log", name="Chat history")).to_be_visible()

    text = f"the keys are under the mat {uuid.uuid4().hex[:6]}"
    bob.open_conversation("alice")
    bob.send(text)
    expect(alice.page.locator("#announcer")).to_contain_text(
        f"New message from bob: {text}", timeout=LIVE_MS
    )
