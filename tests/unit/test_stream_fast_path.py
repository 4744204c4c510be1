"""The stream's lean WSGI path answers, logs and resumes exactly as Flask's route would, and
remembers whose a session is only for the seconds of a reconnect wave.

Each comparison sends the same request twice to one app: through its full WSGI stack (where
the lean path takes signed-in openings) and straight to the stack behind it (Flask's route).
A stream's first two pieces (the ``retry``/``connected`` preamble, then ``resync`` or
``resumed``) and any replay are compared; the stream is then closed, as a tab would.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import request
from flask_login.utils import _create_identifier
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import TimestampSigner
from sqlalchemy import event
from werkzeug.test import Client, TestResponse

from webapp import create_app
from webapp.auth.sessions import end_sessions
from webapp.config import Config
from webapp.events.types import Event
from webapp.extensions import db
from webapp.models import User
from webapp.ops.logs import configure_logging
from webapp.stream.fast_path import StreamFastPath

UA = "Mozilla/5.0 (test)"


class Site:
    """An app (in-process broker) with alice signed up, logging into a buffer, recording the
    requests Flask's own cycle served."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        base = {"SECRET_KEY": "stream-fast-path", "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"}
        config = Config.from_env({**base, **env}, require_service_sid=False)
        self.app = app = create_app(config)
        self.served: list[str] = []
        app.before_request(lambda: self.served.append(request.path))
        self.log = io.StringIO()
        configure_logging(config, stream=self.log)
        with app.app_context():
            db.create_all()
            alice = User.password_account("alice")
            alice.set_password("unused-here")
            db.session.add(alice)
            db.session.commit()
            self.session_id = alice.get_id()
        self.services = app.extensions["parley"]
        serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        assert serializer is not None
        self.serializer = serializer

    def cookie(self, **fields: Any) -> str:
        """A session cookie as ``login_user`` makes it for this test client."""
        with self.app.test_request_context(headers={"User-Agent": UA}):
            client = _create_identifier()
        data = {
            "_user_id": self.session_id,
            "_fresh": True,
            "_id": client,
            "_permanent": True,
            **fields,
        }
        return str(self.serializer.dumps(data))

    def old_cookie(self, age_s: int) -> str:
        """A cookie signed ``age_s`` seconds ago."""
        then = int(time.time()) - age_s

        class Then(TimestampSigner):
            def get_timestamp(self) -> int:
                return then

        serializer = self.app.session_interface.get_signing_serializer(self.app)  # type: ignore[attr-defined]
        serializer.signer = Then
        return str(serializer.dumps({"_user_id": self.session_id, "_permanent": True}))

    def flask_only(self) -> Client:
        """A client for the stack behind the lean path: Flask's route serves it all."""
        layer: Any = self.app.wsgi_app
        while not isinstance(layer, StreamFastPath):
            layer = layer.wsgi_app if hasattr(layer, "wsgi_app") else layer.app
        return Client(layer.wsgi_app)

    def full(self) -> Client:
        return Client(self.app.wsgi_app)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    made = Site(tmp_path)
    yield made
    made.services.broker.close()


def opening(
    client: Client, cookie: str | None, site: Site | None = None, **kwargs: Any
) -> tuple[TestResponse, list[str]]:
    """``GET /stream`` (or ``kwargs["method"]``) and its body: a stream's first two pieces,
    then, its user's streams closed (``site``), the rest (any replay, then the end)."""
    headers = {"User-Agent": UA, **kwargs.pop("headers", {})}
    if cookie is not None:
        client.set_cookie("session", cookie)
    else:
        client.delete_cookie("session")
    method = kwargs.pop("method", "GET")
    response = client.open("/stream", method=method, headers=headers, buffered=False, **kwargs)
    body = iter(response.response)
    pieces: list[str] = []
    try:
        streaming = response.mimetype == "text/event-stream" and method == "GET"
        for piece in body:
            pieces.append(piece.decode() if isinstance(piece, bytes) else piece)
            if streaming and len(pieces) == 2 and site is not None:
                site.services.broker.close_user_streams("alice")
    finally:
        response.close()
    return response, pieces


def shape(site: Site, response: TestResponse, pieces: list[str]) -> tuple[Any, ...]:
    """What must be equal: status, headers (the request id aside, the session cookie decoded
    and its expiry aside), body."""
    headers = []
    for name, value in response.headers.items():
        if name == "X-Request-Id":
            continue
        if name == "Set-Cookie":
            raw, _, attributes = value.partition("; ")
            cookie_name, _, signed = raw.partition("=")
            attributes = re.sub(r"Expires=[^;]+", "Expires=*", attributes)
            value = f"{cookie_name}={sorted(site.serializer.loads(signed).items())}; {attributes}"
        headers.append((name, value))
    return response.status, sorted(headers), pieces


def same_answer(site: Site, cookie: str | None, **kwargs: Any) -> TestResponse:
    lean, lean_body = opening(site.full(), cookie, site, **dict(kwargs))
    plain, plain_body = opening(site.flask_only(), cookie, site, **dict(kwargs))
    assert shape(site, lean, lean_body) == shape(site, plain, plain_body)
    return lean


def publish(site: Site, n: int) -> list[str]:
    for k in range(n):
        site.services.broker.publish(Event("message_added", {"k": k}), ["alice"])
    return [str(site.services.broker.cursor("alice"))]


# Same answers as Flask's route ----------------------------------------------------------------


def test_a_signed_in_opening_skips_flask_and_answers_as_its_route(site: Site) -> None:
    cursor = publish(site, 3)[0]
    first = cursor.replace("-3.", "-1.").split(".")[0]  # seq 1, untagged: the replay follows
    for kwargs in (
        {},
        {"headers": {"Last-Event-ID": first}},
        {"query_string": f"cursor={first}&signals=1"},
        {"headers": {"Last-Event-ID": "not-an-id"}},
        {"headers": {"Last-Event-ID": "9-99999.zz"}},
        {"query_string": "signals=1&signals=0&cursor=&x=%zz"},
    ):
        before = len(site.served)
        answer = same_answer(site, site.cookie(), **kwargs)
        assert answer.status_code == 200
        assert site.served[before:] == ["/stream"], kwargs  # Flask served only the plain one


def test_a_session_that_is_not_permanent_is_not_renewed_on_either_path(site: Site) -> None:
    answer = same_answer(site, site.cookie(_permanent=False))
    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers
    assert answer.headers["Vary"] == "Cookie"


def bad_openings(site: Site) -> list[tuple[str, str | None, dict[str, Any]]]:
    other = site.cookie(_user_id="999:0")
    return [
        ("no cookie", None, {}),
        ("bad signature", site.cookie()[:-2] + "xx", {}),
        ("expired session", site.old_cookie(15 * 24 * 3600), {}),
        ("no such user", other, {}),
        ("not a session id", site.cookie(_user_id="1:x"), {}),
        ("foreign digits", site.cookie(_user_id="\u0661:0"), {}),
        ("remember-me cookie", site.cookie(), {"headers": {"Cookie": "remember_token=1|x"}}),
        ("another client, fresh", site.cookie(_id="0" * 128), {}),
        ("another client, not fresh", site.cookie(_id="0" * 128, _fresh=False), {}),
        ("POST", site.cookie(), {"method": "POST"}),
        ("HEAD", site.cookie(), {"method": "HEAD"}),
        ("not UTF-8 query", site.cookie(), {"environ_overrides": {"QUERY_STRING": "cursor=\xff"}}),
    ]


BAD = [
    "no cookie",
    "bad signature",
    "expired session",
    "no such user",
    "not a session id",
    "foreign digits",
    "remember-me cookie",
    "another client, fresh",
    "another client, not fresh",
    "POST",
    "HEAD",
    "not UTF-8 query",
]


@pytest.mark.parametrize("case", BAD)
def test_other_openings_get_flasks_own_answers(site: Site, case: str) -> None:
    name, cookie, kwargs = next(c for c in bad_openings(site) if c[0] == case)
    answer = same_answer(site, cookie, **kwargs)
    assert answer.status_code < 500, name


def test_a_voided_session_is_refused_at_once_on_both_paths(site: Site) -> None:
    cookie = site.cookie()
    tab = site.full()
    tab.set_cookie("session", cookie)
    held = tab.get("/stream", headers={"User-Agent": UA}, buffered=False)  # now remembered
    assert held.status_code == 200
    with site.app.test_request_context():
        user = User.by_username("alice")
        assert user is not None
        end_sessions(user)
    answer = same_answer(site, cookie)
    assert answer.status_code == 401
    held.close()


@settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    last_event_id=st.one_of(
        st.none(),
        st.text(alphabet="0123456789abcz-.: \t", max_size=24),
        st.from_regex(r"[0-9a-f]{1,8}-[0-9]{1,3}(\.[0-9a-z]{1,6})?", fullmatch=True),
    ),
    query=st.text(alphabet="cursorsignals=&%1-.x", max_size=30),
)
def test_any_cursor_and_query_resume_as_flasks_route_does(
    tmp_path_factory: pytest.TempPathFactory, last_event_id: str | None, query: str
) -> None:
    site = _shared_site(tmp_path_factory)
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
    same_answer(site, site.cookie(), headers=headers, query_string=query)


_SITES: list[Site] = []


def _shared_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """One site for every example (a site per example would take minutes), with a log."""
    if not _SITES:
        _SITES.append(Site(tmp_path_factory.mktemp("hypothesis")))
        publish(_SITES[0], 5)
    return _SITES[0]


# Request id, log lines -----------------------------------------------------------------------


def test_the_request_id_is_echoed_and_on_the_lines_of_the_opening(site: Site) -> None:
    answer, _ = opening(site.full(), site.cookie(), site, headers={"X-Request-Id": "wave-1"})
    assert answer.headers["X-Request-Id"] == "wave-1"
    lines = site.log.getvalue().splitlines()
    assert any("[wave-1]" in line and "GET /stream 200" in line for line in lines)
    assert any("[wave-1]" in line and "stream open: alice (resync)" in line for line in lines)
    assert site.served == []


# The session cache ---------------------------------------------------------------------------


def count_queries(site: Site) -> Callable[[], int]:
    queries: list[str] = []
    with site.app.app_context():
        engine = db.engine

    def note(*args: Any) -> None:
        queries.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", note)
    return lambda: sum("FROM users" in q for q in queries)


def test_a_session_reconnecting_within_seconds_loads_its_user_once(site: Site) -> None:
    loads = count_queries(site)
    cookie = site.cookie()
    for _ in range(5):
        assert opening(site.full(), cookie, site)[0].status_code == 200
    # Each stream that ends forgets its user (a logout elsewhere ends streams): here each
    # closes before the next opens, so it is the opening of several tabs that is remembered.
    assert loads() == 5
    tabs = [site.full() for _ in range(4)]
    open_now = []
    for tab in tabs:
        tab.set_cookie("session", cookie)
        open_now.append(tab.get("/stream", headers={"User-Agent": UA}, buffered=False))
    try:
        assert [r.status_code for r in open_now] == [200] * 4
        assert loads() == 6
    finally:
        for response in open_now:
            response.close()


def test_remembered_sessions_expire_and_are_bounded(site: Site) -> None:
    users = site.services.session_users
    users._ttl_s = 0.0  # every look-up is a miss
    loads = count_queries(site)
    with site.app.app_context():
        assert users.identity(site.session_id) == "alice"
        assert users.identity(site.session_id) == "alice"
        assert users.identity("1:7") is None  # another session version: voided
    assert loads() == 3
    users._ttl_s, users._max_entries = 60.0, 2
    for key in ("1:0", "01:0", "001:0"):
        assert users.identity(key) == "alice"
    assert len(users._entries) <= 2


def test_an_embedded_sites_cookie_and_headers_are_renewed_as_flask_does(tmp_path: Path) -> None:
    """Framed by a host site: ``SameSite=None; Secure; Partitioned`` and its own CSP."""
    embedded = Site(
        tmp_path,
        PARLEY_EMBED_ORIGINS="https://www.example.com",
        PUBLIC_BASE_URL="https://chat.example.com",
    )
    try:
        answer = same_answer(embedded, embedded.cookie())
        assert answer.status_code == 200 and "Partitioned" in answer.headers["Set-Cookie"]
        assert embedded.served == ["/stream"]  # the plain one only
    finally:
        embedded.services.broker.close()
