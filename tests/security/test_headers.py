"""Every response carries the security headers; HSTS only in production; SSE still streams."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.security.conftest import app_for
from tests.support.clients import ApiClient, StreamReader
from tests.support.servers import ParleyServer
from webapp import create_app
from webapp.security import CONTENT_SECURITY_POLICY

EXPECTED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _assert_protected(response: requests.Response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.url, name)
    assert "Strict-Transport-Security" not in response.headers  # development: no HSTS


def test_the_policy_allows_nothing_inline_and_nothing_foreign() -> None:
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


def test_pages_api_static_webhook_and_errors_carry_the_headers(
    parley_server: ParleyServer, login
) -> None:  # type: ignore[no-untyped-def]
    alice: ApiClient = login("alice")
    base = parley_server.url
    for response in (
        requests.get(base + "/login", timeout=10),
        alice.get("/"),
        alice.get("/api/users"),
        alice.get("/api/conversations/CHnope"),
        requests.get(base + "/static/css/app.css", timeout=10),
        requests.get(base + "/api/users", timeout=10),
        requests.post(base + "/twilio/webhook", data={"a": "b"}, timeout=10),
        requests.get(base + "/no-such-page", timeout=10),
    ):
        _assert_protected(response)


def test_the_stream_carries_the_headers_and_still_delivers_at_once(login) -> None:  # type: ignore[no-untyped-def]
    alice: ApiClient = login("alice")
    reader = StreamReader(alice)
    try:
        assert reader.status_code == 200
        _assert_protected(reader.response)
        reader.wait_for("resync")  # the first frame arrives unbuffered
    finally:
        reader.close()


def test_production_adds_hsts_and_a_secure_session_cookie(tmp_path: Path) -> None:
    app = create_app(app_for(tmp_path, PARLEY_ENV="production", LOG_FORMAT="plain"))
    try:
        response = app.test_client().get("/login")
    finally:
        app.extensions["parley"].broker.close()
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_listed_host_sites_may_frame_parley_and_no_one_else(tmp_path: Path) -> None:
    origins = "https://shop.example, http://localhost:8000"
    app = create_app(app_for(tmp_path, PARLEY_EMBED_ORIGINS=origins))
    try:
        response = app.test_client().get("/login?embed=1")
    finally:
        app.extensions["parley"].broker.close()
    policy = response.headers["Content-Security-Policy"]
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["frame-ancestors"] == "'self' https://shop.example http://localhost:8000"
    assert policy == CONTENT_SECURITY_POLICY.replace(
        "frame-ancestors 'none'", "frame-ancestors " + directives["frame-ancestors"]
    )
    assert "X-Frame-Options" not in response.headers  # DENY would refuse the host sites
    cookie = response.headers["Set-Cookie"]
    for attribute in ("SameSite=None", "Secure", "Partitioned", "HttpOnly"):
        assert attribute in cookie
    assert 'class="app-header' not in response.get_data(as_text=True)  # the frame's layout


def test_a_login_page_on_the_way_back_into_a_frame_keeps_the_frames_layout(
    tmp_path: Path,
) -> None:
    app = create_app(app_for(tmp_path, PARLEY_EMBED_ORIGINS="https://shop.example"))
    try:
        client = app.test_client()
        expired = client.get("/c/CH00000000000000000000000000000000?embed=1")
        framed = client.get(expired.headers["Location"]).get_data(as_text=True)
        whole = client.get("/login?next=/c/CH1").get_data(as_text=True)
    finally:
        app.extensions["parley"].broker.close()
    assert expired.status_code == 302 and "embed%3D1" in expired.headers["Location"]
    assert 'class="app-header' not in framed
    assert 'class="app-header' in whole
