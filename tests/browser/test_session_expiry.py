"""When a login expires, the open page ends up on the login form by itself."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import ChatWindow
from tests.support.servers import ParleyServer


def test_an_idle_page_goes_to_the_login_form_when_the_session_expires(
    browser: Any, short_sessions: ParleyServer
) -> None:
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    try:
        alice = ChatWindow(context.new_page(), short_sessions.url)
        alice.log_in("alice", short_sessions.password)
        # Expiry, then up to one heartbeat period for the stream to end, then the page's
        # reconnects and the API call that meets the 401.
        expect(alice.page.get_by_role("button", name="Log in")).to_be_visible(timeout=40_000)
        assert "/login" in alice.page.url
        assert not alice.script_errors
    finally:
        context.close()
