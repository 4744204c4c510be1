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
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.browser.conftest import PAGE_MS, ChatWindow
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


@pytest.fixture(scope="module")
def push_parley(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParleyServer]:
    public, private = generate_keys()
    redis = start_redis()
    try:
        with run_parley(
            tmp_path_factory.mktemp("push-browser"),
            REDIS_URL=redis.url,
            PARLEY_VAPID_PUBLIC_KEY=public,
            PARLEY_VAPID_PRIVATE_KEY=private,
            PARLEY_VAPID_SUBJECT="mailto:ops@example.com",
        ) as server:
            yield server
    finally:
        redis.stop()


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

    def registration_id() -> str | None:
        for registration in registrations:
            if registration["scopeURL"] == scope and not registration.get("isDeleted"):
                return str(registration["registrationId"])
        return None

    sid = "CH" + "1" * 32
    payload = {"title": "alice", "body": "Lunch at noon?", "conversation_sid": sid}
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": push_parley.url,
            "registrationId": wait_until(registration_id, 10, "the registration"),
            "data": json.dumps(payload),
        },
    )

    def shown() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = page.evaluate(
            """navigator.serviceWorker.ready
                 .then((r) => r.getNotifications())
                 .then((list) => list.map((n) => (
                   {title: n.title, body: n.body, tag: n.tag, data: n.data})))"""
        )
        return found

    (notification,) = wait_until(shown, 10, "the notification")
    assert notification == {
        "title": "alice",
        "body": "Lunch at noon?",
        "tag": sid,
        "data": {"url": f"/c/{sid}"},
    }
    assert window.script_errors == []
