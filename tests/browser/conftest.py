"""Browser fixtures: one Chromium for the session, and a fresh browser window per person."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.support.clients import ApiClient
from tests.support.servers import ParleyServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: How long a page may take to load and show its data.
PAGE_MS = 10_000
#: How long a live event may take to reach the other window ("within a couple of seconds").
LIVE_MS = 3_000


# Headless Chromium has no hidden tabs: a page's visibility is emulated (the Page Visibility
# API's two properties and its event), the rest is real.
EMULATED_VISIBILITY = """
(() => {
  window.__hidden = false;
  Object.defineProperty(Document.prototype, 'visibilityState', {
    configurable: true, get() { return window.__hidden ? 'hidden' : 'visible'; },
  });
  Object.defineProperty(Document.prototype, 'hidden', {
    configurable: true, get() { return window.__hidden; },
  });
  window.__setHidden = (hidden) => {
    window.__hidden = hidden;
    document.dispatchEvent(new Event('visibilitychange'));
  };
})();
"""


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    playwright.stop()


class ChatWindow:
    """One person's browser window on Parley, driven the way a user would drive it."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.script_errors: list[str] = []
        page.on("pageerror", lambda error: self.script_errors.append(str(error)))

    # --- logging in ---

    def submit_login(self, username: str, password: str) -> None:
        self.page.goto(self.base_url + "/login")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()

    def log_in(self, username: str, password: str) -> ChatWindow:
        self.submit_login(username, password)
        expect(self.page.get_by_role("button", name="Log out")).to_be_visible(timeout=PAGE_MS)
        self.wait_for_conversations()
        return self

    # --- the conversation list ---

    @property
    def conversation_list(self) -> Locator:
        return self.page.get_by_role("navigation", name="Conversations")

    def wait_for_conversations(self) -> None:
        expect(self.page.get_by_text("Loading conversations…")).to_be_hidden(timeout=PAGE_MS)

    def conversation_link(self, name: str) -> Locator:
        """The sidebar row whose display name is exactly ``name``."""
        return self.conversation_list.get_by_role("link").filter(
            has=self.page.get_by_text(name, exact=True)
        )

    def start_conversation_with(self, username: str) -> str:
        """Use "New conversation"; returns the conversation's sid from the URL it opens."""
        self.page.get_by_role("button", name="New conversation").click()
        dialog = self.page.get_by_role("dialog", name="New conversation")
        dialog.get_by_label("Username").fill(username)
        dialog.get_by_role("button", name="Start conversation").click()
        expect(dialog).to_be_hidden(timeout=PAGE_MS)
        expect(self.page).to_have_url(re.compile(r"/c/\w+$"), timeout=PAGE_MS)
        expect(self.page.get_by_role("heading", name=username, exact=True)).to_be_visible()
        return self.page.url.rsplit("/", 1)[1]

    def create_group(self, name: str, members: str) -> None:
        """Use "New conversation" to make a named group with ``members`` ("bob, carol")."""
        self.page.get_by_role("button", name="New conversation").click()
        dialog = self.page.get_by_role("dialog", name="New conversation")
        dialog.get_by_label("Group name").fill(name)
        dialog.get_by_label("Members").fill(members)
        dialog.get_by_role("button", name="Create group").click()
        expect(dialog).to_be_hidden(timeout=PAGE_MS)
        expect(self.page.get_by_role("heading", name=name, exact=True)).to_be_visible()

    def open_conversation(self, name: str) -> None:
        self.conversation_link(name).click()
        expect(self.page.get_by_role("heading", name=name, exact=True)).to_be_visible()
        expect(self.page.get_by_text("Loading messages…")).to_be_hidden(timeout=PAGE_MS)

    # --- the open conversation ---

    @property
    def history(self) -> Locator:
        return self.page.get_by_role("log", name="Chat history")

    def send(self, text: str) -> None:
        """Type into the composer and press Enter, as most people send."""
        composer = self.page.get_by_role("textbox", name="Message")
        composer.fill(text)
        composer.press("Enter")

    def message(self, body: str) -> Locator:
        """The newest message in the open conversation whose body is exactly ``body``."""
        return (
            self.history.get_by_role("listitem")
            .filter(has=self.page.get_by_text(body, exact=True))
            .last
        )

    def message_bodies(self) -> list[str]:
        return self.history.locator(".message__body").all_text_contents()


@pytest.fixture
def open_window(
    browser: Browser, parley_server: ParleyServer
) -> Iterator[Callable[..., ChatWindow]]:
    """``open_window("alice")`` → a new window (own cookies) logged in as alice;
    ``open_window()`` → a logged-out one; ``device`` overrides the context's options (a
    phone's viewport and touch screen). Every window must end without script errors."""
    contexts = []
    windows: list[ChatWindow] = []

    def _open(username: str | None = None, device: dict[str, Any] | None = None) -> ChatWindow:
        context = browser.new_context(
            **{"viewport": {"width": 1000, "height": 700}, **(device or {})}
        )
        contexts.append(context)
        window = ChatWindow(context.new_page(), parley_server.url)
        windows.append(window)
        if username:
            window.log_in(username, parley_server.password)
        return window

    yield _open
    for context in contexts:
        context.close()
    errors = [error for window in windows for error in window.script_errors]
    assert not errors, f"script errors in the page: {errors}"


@contextmanager
def alice_watching_bob(
    browser: Browser, server: ParleyServer
) -> Iterator[tuple[ChatWindow, ApiClient, str, str]]:
    """alice's window open on her conversation with bob, showing a first message from bob:
    the window, bob (an API client), the conversation's sid and that message's text."""
    bob = ApiClient(server.url).login("bob", server.password)
    sid = bob.start_dm("alice")["sid"]
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    try:
        alice = ChatWindow(context.new_page(), server.url)
        alice.log_in("alice", server.password)
        alice.open_conversation("bob")
        before = f"before {uuid.uuid4().hex[:6]}"
        assert bob.send(sid, before).status_code == 201
        expect(alice.message(before)).to_be_visible(timeout=PAGE_MS)
        yield alice, bob, sid, before
    finally:
        context.close()
