"""Who is signed in, read from a request's session cookie without Flask's request cycle: for the
stream's lean path (``webapp/stream/fast_path.py``).

It answers only for the everyday case, a signed, unexpired session cookie of a current user
that Flask-Login would accept as it is, and gives the ``Vary`` and ``Set-Cookie`` headers
Flask's session interface would add (the permanent session is renewed by every request, the
stream's opening included: ``SESSION_LIFETIME_HOURS`` counts from it). For anything else (no
cookie, a bad signature, an expired or voided session, a remember-me cookie, a session that
Flask-Login's session protection would change) it answers None and the request goes to Flask,
whose answer is then the only one. The tests hold both paths to the same answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import sha512
from typing import TYPE_CHECKING, Any

from flask import Flask
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature
from werkzeug.http import dump_cookie, parse_cookie

from webapp.auth.session_users import SessionUsers
from webapp.extensions import login_manager

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

#: Flask-Login's default names (Parley sets neither).
REMEMBER_COOKIE = "remember_token"


@dataclass(frozen=True)
class CookieSession:
    """A session cookie Flask-Login would take as it is."""

    session_id: str
    #: ``Vary`` and ``Set-Cookie``, as Flask's session interface adds them to the response.
    headers: list[tuple[str, str]]
    users: SessionUsers

    def identity(self) -> str | None:
        """Its user's identity, or None (the session was voided): may raise the database
        pool's ``TimeoutError``, as Flask-Login's loading of the user would."""
        return self.users.identity(self.session_id)


class SessionCookieReader:
    """Flask's session cookie and Flask-Login's rules for it, outside a request context."""

    def __init__(self, app: Flask, users: SessionUsers) -> None:
        interface = app.session_interface
        if type(interface) is not SecureCookieSessionInterface:
            raise TypeError("the stream's lean path reads Flask's own session cookie only")
        serializer = interface.get_signing_serializer(app)
        if serializer is None:
            raise ValueError("no SECRET_KEY: no session cookie can be read")
        self.app = app
        self.interface = interface
        self.serializer = serializer
        self.users = users
        self.cookie_name = interface.get_cookie_name(app)
        self.max_age = int(app.permanent_session_lifetime.total_seconds())
        self.remember_cookie = app.config.get("REMEMBER_COOKIE_NAME", REMEMBER_COOKIE)
        self.protection = app.config.get("SESSION_PROTECTION", login_manager.session_protection)
        self.cookie_options: dict[str, Any] = {
            "httponly": interface.get_cookie_httponly(app),
            "domain": interface.get_cookie_domain(app),
            "path": interface.get_cookie_path(app),
            "secure": interface.get_cookie_secure(app),
            "partitioned": interface.get_cookie_partitioned(app),
            "samesite": interface.get_cookie_samesite(app),
            "max_size": app.config["MAX_COOKIE_SIZE"],
        }

    def session(self, environ: WSGIEnvironment) -> CookieSession | None:
        """The request's session if Flask-Login would take it as it is, or None: let Flask
        answer."""
        cookies = parse_cookie(environ.get("HTTP_COOKIE", ""))
        raw = cookies.get(self.cookie_name)
        if not raw or self.remember_cookie in cookies:
            return None
        try:
            data = self.serializer.loads(raw, max_age=self.max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        session = SecureCookieSession(data)
        session_id = session.get("_user_id")
        if not isinstance(session_id, str) or not session_id.isascii() or "_remember" in session:
            return None
        if not self._protection_passes(environ, session):
            return None
        return CookieSession(session_id, self._session_headers(session), self.users)

    def _protection_passes(self, environ: WSGIEnvironment, session: SecureCookieSession) -> bool:
        """Flask-Login's session protection would leave the session as it is."""
        if self.protection not in ("basic", "strong"):
            return True
        return session.get("_id") == _identifier(environ) or (
            (self.protection == "basic" or session.permanent) and session.get("_fresh") is False
        )

    def _session_headers(self, session: SecureCookieSession) -> list[tuple[str, str]]:
        """What ``save_session`` adds to the response of a request that read the session (as
        Flask-Login does), written out: through a response object it cost twice as much
        (``docs/benchmarks.md``). The tests hold the two to the same headers."""
        headers = [("Vary", "Cookie")]
        if not self.interface.should_set_cookie(self.app, session):
            return headers
        value = self.serializer.dumps(dict(session))
        expires = self.interface.get_expiration_time(self.app, session)
        cookie = dump_cookie(self.cookie_name, value, expires=expires, **self.cookie_options)
        headers.append(("Set-Cookie", cookie))
        return headers


def _identifier(environ: WSGIEnvironment) -> str:
    """Flask-Login's ``_create_identifier``: the client's address and user agent, hashed."""
    address = environ.get("HTTP_X_FORWARDED_FOR", environ.get("REMOTE_ADDR"))
    if address is not None:
        address = address.encode("utf-8").split(b",")[0].strip()
    user_agent = environ.get("HTTP_USER_AGENT")
    if user_agent is not None:
        user_agent = user_agent.encode("utf-8")
    return sha512(f"{address}|{user_agent}".encode()).hexdigest()
