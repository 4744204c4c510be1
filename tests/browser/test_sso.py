"""A host site on another origin hands its logged-in user ``42`` to Parley: its page
auto-submits a fresh token, and the person lands in Parley's chat, logged in, under the name
the host gave. ``localhost`` against Parley's ``127.0.0.1``: another site, as in real life."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import PAGE_MS, ChatWindow
from tests.browser.test_accessibility import serious_violations
from tests.support import host_site
from tests.support.servers import ParleyServer, Served


@pytest.fixture
def host(sso_parley_server: ParleyServer) -> Iterator[str]:
    served = Served(host_site.host_app(sso_parley_server.url))
    yield served.url.replace("127.0.0.1", "localhost")
    served.stop()


def test_the_host_page_signs_user_42_into_the_chat(
    browser: Browser, sso_parley_server: ParleyServer, host: str
) -> None:
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    try:
        window = ChatWindow(context.new_page(), sso_parley_server.url)
        window.page.goto(host + "/chat/42")
        window.page.wait_for_url(sso_parley_server.url + "/", timeout=PAGE_MS)
        expect(window.page.locator(".app-header__name")).to_have_text(
            "Host user 42", timeout=PAGE_MS
        )
        assert window.page.locator("[data-identity]").get_attribute("data-identity") == "42"
        window.wait_for_conversations()
        assert not window.script_errors
    finally:
        context.close()


def test_a_refused_sign_in_says_why_readably(
    browser: Browser, sso_parley_server: ParleyServer
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(sso_parley_server.url + "/login")  # any page of Parley's, to post from
        forged = host_site.generate_token("42", sso_parley_server.url).rsplit(".", 1)[0] + ".x"
        page.evaluate(
            """(token) => {
                const form = document.createElement('form');
                form.method = 'post';
                form.action = '/sso/login';
                const field = document.createElement('input');
                Object.assign(field, {type: 'hidden', name: 'token', value: token});
                form.append(field);
                document.body.append(form);
                form.submit();
            }""",
            forged,
        )
        expect(page.get_by_role("heading", name="You are not signed in")).to_be_visible()
        expect(page.get_by_role("alert")).to_have_text(
            "The sign-in link from your site is not valid."
        )
        assert serious_violations(page) == []
    finally:
        context.close()
