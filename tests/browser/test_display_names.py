"""Two people a host site signed in by name see each other's names, never their identities:
in the search, the list, the header, a group's messages, "is typing…" and "Seen by"."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.browser.conftest import LIVE_MS, PAGE_MS, ChatWindow
from tests.browser.test_accessibility import serious_violations
from tests.support import host_site
from tests.support.servers import ParleyServer

POST_TOKEN = """(token) => {
    const form = document.createElement('form');
    form.method = 'post';
    form.action = '/sso/login';
    const field = document.createElement('input');
    Object.assign(field, {type: 'hidden', name: 'token', value: token});
    form.append(field);
    document.body.append(form);
    form.submit();
}"""


def signed_in_window(
    context: BrowserContext, server: ParleyServer, identity: str, name: str
) -> ChatWindow:
    """A window the host site signed ``identity`` in to, under ``name``."""
    window = ChatWindow(context.new_page(), server.url)
    window.page.goto(server.url + "/login")  # any page of Parley's, to post from
    window.page.evaluate(POST_TOKEN, host_site.generate_token(identity, server.url, name=name))
    expect(window.page.locator(".app-header__name")).to_have_text(name, timeout=PAGE_MS)
    window.wait_for_conversations()
    return window


@pytest.fixture
def sign_in(browser: Browser, sso_parley_server: ParleyServer) -> Iterator[object]:
    contexts = []
    windows: list[ChatWindow] = []

    def _sign_in(identity: str, name: str) -> ChatWindow:
        context = browser.new_context(viewport={"width": 1000, "height": 700})
        contexts.append(context)
        window = signed_in_window(context, sso_parley_server, identity, name)
        windows.append(window)
        return window

    yield _sign_in
    for context in contexts:
        context.close()
    assert not [error for window in windows for error in window.script_errors]


def test_people_see_each_others_names_and_never_their_identities(  # type: ignore[no-untyped-def]
    sign_in, sso_parley_server: ParleyServer
) -> None:
    tag = uuid.uuid4().hex[:6]
    ada_id, grace_id = f"user|a{tag}", f"user|g{tag}"
    ada_name, grace_name = f"Ada Lovelace {tag}", f"Grace Hopper {tag}"
    ada, grace = sign_in(ada_id, ada_name), sign_in(grace_id, grace_name)

    # Search by name, start the 1:1: header and list name Grace.
    ada.page.get_by_role("button", name="New conversation").click()
    dialog = ada.page.get_by_role("dialog", name="New conversation")
    dialog.get_by_label("Name or username").fill("grace hop")
    dialog.get_by_role("button", name=grace_name).click()
    expect(ada.page.get_by_role("heading", name=grace_name, exact=True)).to_be_visible(
        timeout=PAGE_MS
    )
    expect(ada.conversation_link(grace_name)).to_be_visible()
    ada.send(f"hello {tag}")
    expect(grace.conversation_link(ada_name)).to_be_visible(timeout=LIVE_MS)
    grace.open_conversation(ada_name)

    # A group: authors, typing and "Seen by" by name.
    group = f"Names {tag}"
    ada.create_group(group, grace_id)
    ada.send(f"to the group {tag}")
    expect(grace.conversation_link(group)).to_be_visible(timeout=LIVE_MS)
    grace.open_conversation(group)
    expect(grace.message(f"to the group {tag}").locator(".message__author")).to_have_text(ada_name)
    expect(ada.message(f"to the group {tag}").locator(".message__receipt")).to_have_text(
        f"Seen by {grace_name}", timeout=LIVE_MS
    )
    grace.page.get_by_role("textbox", name="Message").press_sequentially("typing")
    expect(ada.page.locator("#typing-indicator")).to_have_text(
        f"{grace_name} is typing…", timeout=LIVE_MS
    )
    expect(ada.page.locator("#pane")).to_contain_text(f"You, {grace_name}")

    # A newcomer neither page has a name for yet: the system line names them once known.
    linus_id, linus_name = f"user|l{tag}", f"Linus Torvalds {tag}"
    host_site.signed_in(sso_parley_server.url, linus_id, name=linus_name)
    ada.page.get_by_role("button", name="Add person").click()
    add = ada.page.get_by_role("dialog", name="Add person")
    add.get_by_label("Username").fill(linus_id)
    add.get_by_role("button", name="Add").click()
    expect(add).to_be_hidden(timeout=PAGE_MS)
    expect(ada.history.get_by_text(f"You added {linus_name}", exact=True)).to_be_visible()
    expect(grace.history).to_contain_text(
        re.compile(f"{ada_name} added {linus_name}|{linus_name} joined"), timeout=LIVE_MS
    )
    expect(grace.page.locator("#pane-subtitle")).to_have_text(f"You, {ada_name}, {linus_name}")

    for window in (ada, grace):
        for identity in (ada_id, grace_id, linus_id):
            expect(window.page.locator("body")).not_to_contain_text(identity)


@pytest.fixture
def no_directory_parley(tmp_path: Path) -> Iterator[ParleyServer]:
    with host_site.trusting_parley(tmp_path, PARLEY_DIRECTORY="off") as server:
        yield server


def test_without_a_directory_the_dialog_says_the_site_makes_conversations(
    browser: Browser, no_directory_parley: ParleyServer
) -> None:
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    try:
        window = signed_in_window(context, no_directory_parley, "70", "Seventy")
        window.page.get_by_role("button", name="New conversation").click()
        dialog = window.page.get_by_role("dialog", name="New conversation")
        expect(dialog).to_contain_text("made by the site you came from", timeout=PAGE_MS)
        expect(dialog.get_by_label("Name or username")).to_be_hidden()
        assert serious_violations(window.page) == []
        dialog.get_by_role("button", name="Close").click()
        expect(dialog).to_be_hidden()
        assert not window.script_errors
    finally:
        context.close()
