"""Web Push in Chromium: the control, the service worker at the site's root, and its
``push`` handler showing the notification for a push delivered through the DevTools protocol
(``ServiceWorker.deliverPushMessage``, the push service's part played by Chromium itself).

Not tested in a browser: a real ``pushManager.subscribe`` (headless Chromium reaches no push
service) and a click on a shown notification (no protocol command clicks one); the
subscription API and the sending side are tested against a push service stand-in in
tests/integration/test_push.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.browser.conftest import PAGE_MS, ChatWindow
from tests.support.clients import ApiClient
from tests.support.push_service import PushService
from tests.support.servers import ParleyServer, run_parley, start_redis
from tests.support.waiting import wait_until
from webapp.push.keys import generate_keys

#: Counts the page's permission requests, then asks the real API.
COUNT_PERMISSION_REQUESTS = """
(() => {
  window.__permissionRequests = 0;
  const ask = Notification.requestPermission.bind(Notification);
  Notification.requestPermission = (...args) => {
    window.__permissionRequests += 1;
    return ask(...args);
  };
})();
"""


class PushStack(NamedTuple):
    parley: ParleyServer
    service: PushService


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PushStack]:
    """A Parley with VAPID keys, and the push service stand-in its pushes go to."""
    public, private = generate_keys()
    service = PushService(public)
    redis = start_redis()
    try:
        with run_parley(
            tmp_path_factory.mktemp("push-browser"),
            REDIS_URL=redis.url,
            PARLEY_VAPID_PUBLIC_KEY=public,
            PARLEY_VAPID_PRIVATE_KEY=private,
            PARLEY_VAPID_SUBJECT="mailto:ops@example.com",
        ) as server:
            yield PushStack(server, service)
    finally:
        redis.stop()
        service.stop()


@pytest.fixture
def push_parley(stack: PushStack) -> ParleyServer:
    return stack.parley


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    yield context
    context.close()


def test_the_permission_is_asked_only_on_a_click(
    context: BrowserContext, push_parley: ParleyServer
) -> None:
    context.add_init_script(COUNT_PERMISSION_REQUESTS)
    window = ChatWindow(context.new_page(), push_parley.url)
    window.log_in("bob", push_parley.password)
    toggle = window.page.get_by_role("button", name="Notify me when Parley is closed")
    expect(toggle).to_be_visible(timeout=PAGE_MS)
    expect(window.page.get_by_label("Show message text")).to_be_checked()
    assert window.page.evaluate("window.__permissionRequests") == 0
    toggle.click()
    wait_until(lambda: window.page.evaluate("window.__permissionRequests") == 1, 5, "a request")
    expect(toggle).to_be_enabled(timeout=PAGE_MS)
    assert window.script_errors == []


def test_the_service_worker_shows_a_pushed_message(
    context: BrowserContext, push_parley: ParleyServer
) -> None:
    context.grant_permissions(["notifications"], origin=push_parley.url)
    window = ChatWindow(context.new_page(), push_parley.url)
    page = window.page
    cdp = context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(event["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    window.log_in("bob", push_parley.password)
    scope = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
    assert scope == push_parley.url + "/"

    sid = "CH" + "1" * 32
    payload = {"title": "alice", "body": "Lunch at noon?", "conversation_sid": sid}
    registration = wait_until(registration_id(registrations, scope), 10, "the registration")
    (notification,) = _delivered(cdp, push_parley.url, registration, payload, page)
    assert notification == {
        "title": "alice",
        "body": "Lunch at noon?",
        "tag": sid,
        "data": {"url": f"/c/{sid}"},
    }
    assert window.script_errors == []


def test_bob_closes_his_parley_tab_alice_writes_his_browser_shows_it(
    context: BrowserContext, stack: PushStack
) -> None:
    """Parley → the stand-in (VAPID checked, payload decrypted with the subscription's
    private key) → that payload delivered to bob's service worker → his notification."""
    server = stack.parley
    context.grant_permissions(["notifications"], origin=server.url)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(event["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    ChatWindow(page, server.url).log_in("carol", server.password)
    scope = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
    registration = wait_until(registration_id(registrations, scope), 10, "the registration")
    # The subscription headless Chromium cannot make: the stand-in's, stored as the page would.
    carol = ApiClient(server.url).login("carol", server.password)
    token = "carols-browser"
    stored = carol.post("/api/push/subscriptions", stack.service.subscribe(token))
    assert stored.status_code == 201, stored.text
    page.goto("about:blank")  # carol's only Parley tab closes: her stream ends

    alice = ApiClient(server.url).login("alice", server.password)
    sid = alice.start_dm("carol")["sid"]
    assert alice.send(sid, "Are you coming tonight?").status_code == 201
    (delivery,) = wait_until(lambda: stack.service.deliveries(token), 60, "the push")
    assert delivery.payload["title"] == "alice"

    page.goto(server.url + "/healthz")  # the origin, to read what its worker shows
    (notification,) = _delivered(cdp, server.url, registration, delivery.payload, page)
    assert notification["title"] == "alice"
    assert notification["body"] == "Are you coming tonight?"
    assert notification["data"] == {"url": f"/c/{sid}"}

    # carol mutes the chat: alice's next message there is never pushed. A message in another
    # conversation, sent after it, is: once it arrives, the muted one would have too.
    muted = carol.put(f"/api/conversations/{sid}/mute", {"duration": "forever"})
    assert muted.status_code == 200, muted.text
    assert alice.send(sid, "Hello? Are you there?").status_code == 201
    other = alice.post("/api/conversations", {"participants": ["carol", "bob"]}).json()
    assert alice.send(other["conversation"]["sid"], "Tonight, 8 pm").status_code == 201
    wait_until(lambda: len(stack.service.deliveries(token)) == 2, 60, "the unmuted push")
    later = stack.service.deliveries(token)[1]
    assert later.payload["conversation_sid"] == other["conversation"]["sid"]


def registration_id(registrations: list[dict[str, Any]], scope: str) -> Any:
    """A check for :func:`wait_until`: the id CDP gives the registration at ``scope``."""

    def find() -> str | None:
        for registration in registrations:
            if registration["scopeURL"] == scope and not registration.get("isDeleted"):
                return str(registration["registrationId"])
        return None

    return find


def _delivered(
    cdp: Any, origin: str, registration: str, payload: dict[str, Any], page: Any
) -> list[dict[str, Any]]:
    """The notifications shown once the worker has the push. A push handed over through CDP
    can be lost while the worker is still starting (1 run in 3 here), as a push service's
    first try can; like a push service, this tries again (every second) until it is shown.
    Every try shows the same notification (its tag), so there is never more than one."""
    tried = [0.0]

    def shown() -> list[dict[str, Any]]:
        found = _shown(page)
        if not found and time.monotonic() - tried[0] >= 1.0:
            tried[0] = time.monotonic()
            _deliver(cdp, origin, registration, payload)
        return found

    return wait_until(shown, 15, "the notification")


def _deliver(cdp: Any, origin: str, registration: str, payload: dict[str, Any]) -> None:
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": origin, "registrationId": registration, "data": json.dumps(payload)},
    )


def _shown(page: Any) -> list[dict[str, Any]]:
    """The notifications the page's service worker shows now."""
    found: list[dict[str, Any]] = page.evaluate(
        """navigator.serviceWorker.ready
             .then((r) => r.getNotifications())
             .then((list) => list.map((n) => (
               {title: n.title, body: n.body, tag: n.tag, data: n.data})))"""
    )
    return found
