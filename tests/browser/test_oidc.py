"""Sign in with an OpenID Connect provider: a real, certified one (``oidc-provider`` on
``localhost``, its development login and consent pages) in front of Parley on ``127.0.0.1``.

The person clicks "Sign in with Test ID", signs in at the provider and lands in Parley's
chat under the provider's ``name``, their identity the provider's ``sub``. Whatever comes back
to the callback that this browser's sign-in did not start, or that was used already, is a
readable 401 page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect

from tests.browser.conftest import PAGE_MS, ChatWindow
from tests.browser.test_accessibility import serious_violations
from tests.conftest import OidcStack
from tests.support.oidc_provider import (
    USER_NAMED_LIKE_A_PASSWORD_ACCOUNT,
    USER_WITH_NAME,
    USER_WITH_USERNAME_ONLY,
)

CALLBACK = re.compile(r"/oidc/callback\?")
NOT_SIGNED_IN = "You are not signed in"


@pytest.fixture
def window(browser: Browser, oidc_stack: OidcStack) -> Iterator[ChatWindow]:
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    window = ChatWindow(context.new_page(), oidc_stack.parley.url)
    yield window
    context.close()
    assert not window.script_errors


def sign_in_at_provider(page: Page, login: str) -> None:
    """The provider's development pages: any password; consent once per client."""
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()  # "Authorize: scopes: profile"


def start(window: ChatWindow) -> None:
    window.page.goto(window.base_url + "/login")
    window.page.get_by_role("link", name="Sign in with Test ID").click()


def test_sign_in_with_the_provider_lands_in_the_chat_under_its_name(
    window: ChatWindow, oidc_stack: OidcStack
) -> None:
    login, name = USER_WITH_NAME
    start(window)
    expect(window.page).to_have_url(re.compile("^" + oidc_stack.provider.issuer))
    sign_in_at_provider(window.page, login)
    window.page.wait_for_url(oidc_stack.parley.url + "/", timeout=PAGE_MS)
    expect(window.page.locator(".app-header__name")).to_have_text(name)
    assert window.page.locator("[data-identity]").get_attribute("data-identity") == login
    window.wait_for_conversations()


def test_preferred_username_names_whoever_has_no_name(
    window: ChatWindow, oidc_stack: OidcStack
) -> None:
    start(window)
    sign_in_at_provider(window.page, USER_WITH_USERNAME_ONLY)
    window.page.wait_for_url(oidc_stack.parley.url + "/", timeout=PAGE_MS)
    expect(window.page.locator(".app-header__name")).to_have_text(USER_WITH_USERNAME_ONLY)


def test_a_provider_account_never_takes_over_a_password_account(
    window: ChatWindow, oidc_stack: OidcStack
) -> None:
    start(window)
    sign_in_at_provider(window.page, USER_NAMED_LIKE_A_PASSWORD_ACCOUNT)
    _expect_refused(
        window.page, "Your Test ID account cannot sign in to Parley; ask whoever runs Parley."
    )
    assert serious_violations(window.page) == []
    again = window.page.get_by_role("link", name="Sign in with Test ID")  # one click to retry
    assert again.get_attribute("href") == "/oidc/login"


def test_a_callback_this_browser_did_not_start_or_already_used_is_refused(
    window: ChatWindow, oidc_stack: OidcStack
) -> None:
    page, base = window.page, oidc_stack.parley.url
    callbacks: list[str] = []

    def note(request: Request) -> None:
        if CALLBACK.search(request.url):
            callbacks.append(request.url)

    page.on("request", note)
    start(window)
    sign_in_at_provider(page, USER_WITH_NAME[0])
    page.wait_for_url(base + "/", timeout=PAGE_MS)
    first = callbacks[0]

    # The same callback again: its state was used up (and its code with it).
    page.goto(first)
    _expect_refused(page)

    # A state this browser never started.
    page.goto(f"{base}/oidc/callback?code=whatever&state=forged")
    _expect_refused(page)

    # A new sign-in's state, but with the first sign-in's (used) code: the provider says no.
    # First, the same state with another issuer in the response (a mix-up): refused before
    # the code is spent, so the state is still good for the replayed code.
    # A new sign-in is started (its state and verifier in this browser's session), but never
    # sent to the provider: the response's redirect is kept from the browser.
    starts: list[str] = []

    def start_only(route: Route) -> None:
        response = route.fetch(max_redirects=0)
        starts.append(response.headers["location"])
        route.fulfill(status=200, headers=response.headers | {"location": ""}, body="started")

    page.route(re.compile(r"/oidc/login$"), start_only)
    page.goto(base + "/oidc/login")
    page.unroute(re.compile(r"/oidc/login$"))
    state = re.search(r"[?&]state=([^&]+)", starts[0])
    old_code = re.search(r"[?&]code=([^&]+)", first)
    assert state and old_code
    page.goto(f"{base}/oidc/callback?code={old_code[1]}&state={state[1]}&iss=http://evil.test")
    _expect_refused(page)
    page.goto(f"{base}/oidc/callback?code={old_code[1]}&state={state[1]}")
    _expect_refused(page)
    log = oidc_stack.parley.log()
    assert "oidc login refused: the response names issuer 'http://evil.test'" in log
    assert "invalid_grant" in log
    assert "MismatchingStateError" in log


def _expect_refused(
    page: Page, reason: str = "The sign-in with Test ID did not work. Try again."
) -> None:
    expect(page.get_by_role("heading", name=NOT_SIGNED_IN)).to_be_visible(timeout=PAGE_MS)
    expect(page.get_by_role("alert")).to_have_text(reason)
