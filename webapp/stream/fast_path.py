"""The lean WSGI path for ``GET /stream``: a signed-in browser's stream opened without Flask's
request cycle.

Why it exists: on a deploy every open page reconnects to the new worker at once, and opening
streams was about 70 % of that worker's CPU, mostly gunicorn's parser, Flask's request cycle
(request and app contexts, URL matching, hooks, the session) and loading the user
(``docs/benchmarks.md``, "A deploy under load"). This path reads the session cookie with
Flask's own serializer and Flask-Login's rules (``webapp/auth/session_cookie.py``, with the
user cached per session for a few seconds) and opens the stream with the route's own
:func:`~webapp.stream.routes.open_stream`. It answers as Flask would: status, headers (the
stream's, the security headers, ``Vary``, the renewed session cookie, the request id), the one
request log line, and the same turn-away when the database or Redis is out of reach.

Everything else goes to Flask untouched: other paths and methods, and any opening the cookie
reader does not vouch for (no or bad cookie, an expired or voided session, anything
Flask-Login would change), whose answers (a 401 above all) stay Flask's alone.

No app context is pushed: the stream's services need none.

Measured (``python -m bench.opening_cost``, Redis broker, one thread, 2,000 openings of distinct
sessions on the shared 2-core machine): 1.66-1.92 ms of CPU per opening through Flask's route,
0.79-1.05 ms here (0.71 ms when the session is remembered, against 1.38-1.47 ms). On a
restarted worker under the deploy wave (``bench.run --restart``), 2,100-2,400 streams were
open 10 s after it booted, against 840 through Flask's route.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401  (registers the "werkzeug.url_quote" codec error handler)
from flask import Flask
from sqlalchemy.exc import TimeoutError as PoolTimeout

from webapp.events.broker import BrokerUnavailable
from webapp.ops import logs
from webapp.security import response_headers
from webapp.services import Services, get_services
from webapp.stream.admission import STREAM_HEADERS, STREAM_PATH, turned_away
from webapp.stream.routes import open_stream

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: The route's logger: its lines read the same whichever path opened the stream.
log = logging.getLogger("webapp.stream.routes")


class Session(Protocol):
    """A session cookie the lean path may serve (``webapp/auth/session_cookie.py``)."""

    @property
    def headers(self) -> list[tuple[str, str]]:
        """``Vary`` and ``Set-Cookie``: the session renewed, as Flask's cycle would."""
        ...

    def identity(self) -> str | None:
        """The signed-in user's identity, or None (voided); may raise ``PoolTimeout``."""
        ...


#: The request's session, or None: let Flask answer.
Sessions = Callable[["WSGIEnvironment"], "Session | None"]


class StreamFastPath:
    """WSGI middleware serving signed-in ``GET /stream`` openings ahead of Flask."""

    def __init__(self, app: Flask, wsgi_app: WSGIApplication, sessions: Sessions) -> None:
        self.wsgi_app = wsgi_app
        self.sessions = sessions
        self.services: Services = get_services(app)
        self.lifetime_s = app.permanent_session_lifetime.total_seconds()
        self.headers = [
            ("Content-Type", "text/event-stream; charset=utf-8"),
            *STREAM_HEADERS.items(),
            *response_headers(self.services.config).items(),
        ]

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != STREAM_PATH or environ.get("REQUEST_METHOD") != "GET":
            return self.wsgi_app(environ, start_response)
        query = _query(environ)
        if query is None:
            return self.wsgi_app(environ, start_response)
        session = self.sessions(environ)
        if session is None:
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        request_id = logs.request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        token = logs.bind_request_id(request_id)
        try:
            served = self._serve(environ, start_response, session, query, request_id, started)
        finally:
            logs.unbind_request_id(token)
        # None: the session was voided; Flask answers (with an id of its own).
        return self.wsgi_app(environ, start_response) if served is None else served

    def _serve(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        session: Session,
        query: dict[str, str],
        request_id: str,
        started: float,
    ) -> Iterable[bytes] | None:
        identity: str | None = None
        try:
            identity = session.identity()
            if identity is None:
                return None
            body = open_stream(
                self.services,
                identity,
                environ,
                environ.get("HTTP_LAST_EVENT_ID") or query.get("cursor"),
                query.get("signals") == "1",
                self.lifetime_s,
            )
        except (PoolTimeout, BrokerUnavailable) as exc:
            # The route's answer: come back later (its session was read, so renewed).
            log.info("stream opening turned away: %s", exc.__class__.__name__)
            if identity is not None:
                # No stream holds the user here to hear of a logout: no entry outlives it.
                self.services.session_users.forget(identity)
            self._start(start_response, request_id, session.headers)
            logs.log_request("GET", STREAM_PATH, 200, started)
            return turned_away(environ, self.services.admission)
        self._start(start_response, request_id, session.headers)
        logs.log_request("GET", STREAM_PATH, 200, started)
        return _encoded(body)

    def _start(
        self, start_response: StartResponse, request_id: str, session: list[tuple[str, str]]
    ) -> None:
        start_response("200 OK", [*self.headers, (logs.REQUEST_ID_HEADER, request_id), *session])


def _query(environ: WSGIEnvironment) -> dict[str, str] | None:
    """The query's parameters as Flask's ``request.args`` reads them (first value of each),
    or None when it is not UTF-8 (Flask's answer, then)."""
    raw = environ.get("QUERY_STRING", "")
    if not raw:
        return {}
    try:
        text = raw.encode("latin-1").decode()
    except UnicodeError:
        return None
    params: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote"):
        params.setdefault(name, value)
    return params


def _encoded(body: Iterator[str]) -> Iterator[bytes]:
    """The body as werkzeug's ``Response`` sends a text iterator: each piece UTF-8 encoded,
    and the generator closed when the server closes the response (``HandedOver`` included)."""
    try:
        for piece in body:
            yield piece.encode()
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()


def init_stream_fast_path(app: Flask, sessions: Sessions) -> None:
    """Put the stream's lean path in front of the app's WSGI stack (behind the admission gate,
    which ``create_app`` adds afterwards: an opening takes a slot on either path)."""
    app.wsgi_app = StreamFastPath(app, app.wsgi_app, sessions)  # type: ignore[method-assign]
