"""Parley inside a host site's page: the host (``localhost``) frames Parley (``127.0.0.1``),
another site, as in real life, so the session lives in a cross-site frame: a
``SameSite=None; Secure; Partitioned`` cookie, which Chromium keeps over http on loopback
and keeps even with third-party cookies blocked (its default in a Playwright context).

Users ``42`` and ``43`` sign in through their host pages' frames and chat live in a
conversation the host made with the ``twilio`` library before either of them had opened
Parley. A page on an origin Parley does not list cannot frame it at all."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, BrowserContext, FrameLocator, Locator, Page, expect

from tests.browser.conftest import LIVE_MS, PAGE_MS
from tests.support import host_site
from tests.support.servers import ParleyServer, Served, run_parley
from tests.support.waiting import free_port, wait_until


@dataclass
class EmbedStack:
    parley: ParleyServer
    host: str  # the trusted host site's origin
    stranger: str  # the same pages on an origin Parley does not list


@pytest.fixture(scope="module")
def embed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbedStack]:
    port = free_port()
    parley_url = f"http://127.0.0.1:{port}"
    host = Served(host_site.host_app(parley_url))
    stranger = Served(host_site.host_app(parley_url))
    host_origin = host.url.replace("127.0.0.1", "localhost")
    try:
        with run_parley(
            tmp_path_factory.mktemp("parley-embed"),
            PORT=str(port),
            PARLEY_EMBED_ORIGINS=host_origin,
            **host_site.parley_env(parley_url),
        ) as parley:
            yield EmbedStack(parley, host_origin, stranger.url.replace("127.0.0.1", "localhost"))
    finally:
        host.stop()
        stranger.stop()


class HostPage:
    """One person on the host's page, chatting in its Parley panel."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.context = context
        self.page = page
        self.script_errors: list[str] = []
        page.on("pageerror", lambda error: self.script_errors.append(str(error)))

    @property
    def panel(self) -> FrameLocator:
        return self.page.frame_locator(f"iframe[name={host_site.PANEL}]")

    def send(self, text: str) -> None:
        composer = self.panel.get_by_role("textbox", name="Message")
        composer.fill(text)
        composer.press("Enter")

    def message(self, body: str) -> Locator:
        return self.panel.get_by_role("log", name="Chat history").get_by_text(body, exact=True)


@pytest.fixture
def open_host_page(browser: Browser, embed: EmbedStack) -> Iterator[Callable[..., HostPage]]:
    """``open_host_page("42", sid)``: user 42, in a browser of their own, on the host's page
    whose panel opens conversation ``sid``; signed in through the frame."""
    pages: list[HostPage] = []

    def _open(user_id: str, sid: str = "") -> HostPage:
        context = browser.new_context(viewport={"width": 1000, "height": 700})
        page = context.new_page()
        host_page = HostPage(context, page)
        pages.append(host_page)
        page.goto(f"{embed.host}/panel/{user_id}?sid={sid}")
        shown = host_page.panel.get_by_role("textbox", name="Message")
        if not sid:
            shown = host_page.panel.get_by_role("navigation", name="Conversations")
        expect(shown).to_be_visible(timeout=PAGE_MS)
        return host_page

    yield _open
    for host_page in pages:
        host_page.context.close()
    errors = [error for host_page in pages for error in host_page.script_errors]
    assert not errors, f"script errors in the page: {errors}"


def test_42_and_43_chat_live_in_the_host_pages_frames(
    embed: EmbedStack, open_host_page: Callable[..., HostPage]
) -> None:
    sid = host_site.create_conversation(
        embed.parley.url, embed.parley.auth_token, "Order 1001", "42", "43"
    )
    ada = open_host_page("42", sid)
    bea = open_host_page("43", sid)

    # The embed layout: no Parley header or logout, no conversation list, the frame's height.
    for person in (ada, bea):
        expect(person.panel.locator("body.page--embedded")).to_have_count(1)
        expect(person.panel.locator(".app-header")).to_have_count(0)
        expect(person.panel.get_by_role("button", name="Log out")).to_have_count(0)
        expect(person.panel.get_by_role("navigation", name="Conversations")).to_be_hidden()
        frame = person.page.frame(name=host_site.PANEL)
        assert frame is not None and frame.url.endswith(f"/c/{sid}?embed=1")
        fits = frame.evaluate(
            "() => document.documentElement.scrollHeight <= window.innerHeight"
            " && Math.round(document.getElementById('app').getBoundingClientRect().bottom)"
            " === window.innerHeight"
        )
        assert fits, "the chat fills the frame with nothing outside it to scroll"

    hello = f"hello from 42 {uuid.uuid4().hex[:6]}"
    ada.send(hello)
    expect(bea.message(hello)).to_be_visible(timeout=LIVE_MS)
    reply = f"hi 42, 43 here {uuid.uuid4().hex[:6]}"
    bea.send(reply)
    expect(ada.message(reply)).to_be_visible(timeout=LIVE_MS)

    # The session is the frame's own, partitioned under the host's site.
    cookies = [c for c in ada.context.cookies() if c["domain"] == "127.0.0.1"]
    assert [c["sameSite"] for c in cookies] == ["None"] and cookies[0]["secure"]
    assert cookies[0].get("partitionKey") == "http://localhost"


def test_the_list_in_a_frame_opens_conversations_in_the_frames_layout(
    embed: EmbedStack, open_host_page: Callable[..., HostPage]
) -> None:
    sid = host_site.create_conversation(
        embed.parley.url, embed.parley.auth_token, "Order 1002", "42", "43"
    )
    ada = open_host_page("42")
    ada.panel.get_by_role("navigation", name="Conversations").get_by_role("link").filter(
        has_text="Order 1002"
    ).click()
    expect(ada.panel.get_by_role("heading", name="Order 1002")).to_be_visible(timeout=PAGE_MS)
    frame = ada.page.frame(name=host_site.PANEL)
    assert frame is not None
    wait_until(lambda: frame.url.endswith(f"/c/{sid}?embed=1"), 5, "the frame's URL to keep embed")
    with ada.page.expect_event("framenavigated"):
        frame.evaluate("location.reload()")  # a reload in the frame keeps the frame's layout
    expect(ada.panel.locator("body.page--embedded")).to_have_count(1)
    expect(ada.panel.get_by_role("heading", name="Order 1002")).to_be_visible(timeout=PAGE_MS)


def test_a_site_parley_does_not_list_cannot_frame_it(browser: Browser, embed: EmbedStack) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.goto(embed.stranger + "/framed")
        # Chromium swaps the refused frame for an error page, for a moment a nameless frame
        # with no URL: wait for the error page itself, then check it is the panel's frame.
        wait_until(
            lambda: any(f.url.startswith("chrome-error://") for f in page.frames),
            PAGE_MS / 1000,
            "the frame refused",
        )
        frame = next(f for f in page.frames if f.url.startswith("chrome-error://"))
        assert frame.frame_element().get_attribute("name") == host_site.PANEL
        assert frame.locator("#login-form, form").count() == 0
        wait_until(
            lambda: any("frame-ancestors" in line for line in console),
            PAGE_MS / 1000,
            "Chromium to say why it refused",
        )
        # The trusted host's origin may frame the same page.
        page.goto(embed.host + "/framed")
        expect(
            page.frame_locator(f"iframe[name={host_site.PANEL}]").get_by_role(
                "button", name="Log in"
            )
        ).to_be_visible(timeout=PAGE_MS)
    finally:
        context.close()
