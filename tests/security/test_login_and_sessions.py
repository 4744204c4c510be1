"""Login: one error for every bad login, rate limits per account and per IP (counted in Redis),
and session cookies that are HttpOnly, SameSite=Lax and rotated at login."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from tests.security.conftest import Visitor, app_for
from tests.support.clients import ApiClient
from tests.support.servers import ParleyServer, RedisServer, run_parley
from webapp import create_app
from webapp.auth.routes import safe_next


@pytest.fixture(scope="module")
def limited_server(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[ParleyServer]:
    """A Parley of its own with small login limits, behind a (pretend) proxy so each test
    can be its own client IP through ``X-Forwarded-For``; the shared server is never slowed."""
    with run_parley(
        tmp_path_factory.mktemp("limited"),
        REDIS_URL=redis_server.url,
        TRUST_PROXY="1",
        LOGIN_LIMIT_PER_USERNAME="3/minute",
        LOGIN_LIMIT_PER_IP="6/minute",
    ) as server:
        yield server


def _ip() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def test_unknown_user_and_wrong_password_get_the_same_answer(parley_server: ParleyServer) -> None:
    visitor = Visitor(parley_server.url)
    wrong_password = visitor.log_in("alice", "not-the-password")
    unknown_user = visitor.log_in("nobody-" + uuid.uuid4().hex[:8], "not-the-password")
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert "Invalid username or password." in wrong_password.text
    assert "Invalid username or password." in unknown_user.text
    # The pages differ only in the username echoed back into the form.
    assert wrong_password.text.replace("alice", "X").count("<") == unknown_user.text.count("<")


def test_session_cookie_is_httponly_lax_and_not_secure_in_development(
    parley_server: ParleyServer,
) -> None:
    visitor = Visitor(parley_server.url)
    response = visitor.log_in("carol", parley_server.password)
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # production sets it: see test_headers.py


def test_login_rotates_the_session_so_a_planted_cookie_grants_nothing(
    parley_server: ParleyServer,
) -> None:
    visitor = Visitor(parley_server.url)
    planted = visitor.session.cookies["session"]  # what an attacker could have fixed
    assert visitor.log_in("carol", parley_server.password).status_code == 302
    assert visitor.session.cookies["session"] != planted
    assert visitor.request("GET", "/api/users").status_code == 200

    stranger = Visitor(parley_server.url)
    stranger.session.cookies.set("session", planted)
    answer = stranger.request("GET", "/api/users")
    assert answer.status_code == 401


def test_an_account_is_locked_for_a_while_after_repeated_failures_from_any_ip(
    limited_server: ParleyServer, redis_server: RedisServer
) -> None:
    username = "alice"  # this server is ours: nobody else logs in to it as alice
    for _ in range(3):
        failed = Visitor(limited_server.url).log_in(username, "wrong", **{"X-Forwarded-For": _ip()})
        assert failed.status_code == 401

    # The right password, from another IP, is refused too: that is the point of the limit.
    limited = Visitor(limited_server.url).log_in(
        username, limited_server.password, **{"X-Forwarded-For": _ip()}
    )
    assert limited.status_code == 429
    assert "Too many failed logins" in limited.text  # the login form, readably
    assert "<form" in limited.text and "Traceback" not in limited.text
    assert int(limited.headers["Retry-After"]) > 0

    other = Visitor(limited_server.url).log_in(
        "bob", limited_server.password, **{"X-Forwarded-For": _ip()}
    )
    assert other.status_code == 302  # other accounts are unaffected

    counters = redis.Redis.from_url(redis_server.url).keys("*parley-limits*")
    assert any(b"user:alice" in key for key in counters)  # shared by every worker


def test_an_ip_is_slowed_after_repeated_failures_on_any_accounts(
    limited_server: ParleyServer,
) -> None:
    attacker = _ip()
    for n in range(6):
        failed = Visitor(limited_server.url).log_in(
            f"guess-{n}-{uuid.uuid4().hex[:6]}", "wrong", **{"X-Forwarded-For": attacker}
        )
        assert failed.status_code == 401
    blocked = Visitor(limited_server.url).log_in(
        "carol", limited_server.password, **{"X-Forwarded-For": attacker}
    )
    assert blocked.status_code == 429
    elsewhere = Visitor(limited_server.url).log_in(
        "carol", limited_server.password, **{"X-Forwarded-For": _ip()}
    )
    assert elsewhere.status_code == 302


def test_successful_logins_never_count(limited_server: ParleyServer) -> None:
    """A whole office behind one IP logging in is not an attack."""
    office = _ip()
    for _ in range(8):
        visitor = Visitor(limited_server.url)
        assert (
            visitor.log_in(
                "carol", limited_server.password, **{"X-Forwarded-For": office}
            ).status_code
            == 302
        )


def test_a_session_cookie_copied_before_logout_stops_working(parley_server: ParleyServer) -> None:
    carol = ApiClient(parley_server.url).login("carol", parley_server.password)
    stolen = requests.Session()
    stolen.cookies.update(carol.session.cookies)
    assert stolen.get(parley_server.url + "/api/conversations", timeout=5).status_code == 200
    carol.session.post(
        parley_server.url + "/logout", data={"csrf_token": carol.csrf_token}, timeout=5
    )
    assert stolen.get(parley_server.url + "/api/conversations", timeout=5).status_code == 401


@pytest.mark.parametrize(
    "target", ["//evil.test/x", "/\\evil.test/x", "https://evil.test/", "javascript:alert(1)", ""]
)
def test_next_never_leads_off_parley(tmp_path: Path, target: str) -> None:
    app = create_app(app_for(tmp_path))
    try:
        with app.test_request_context():
            assert safe_next(target) == "/"
            assert safe_next("/c/CH1?embed=1") == "/c/CH1?embed=1"
    finally:
        app.extensions["parley"].broker.close()
