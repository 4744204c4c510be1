"""Builds the one ``twilio.rest.Client`` Parley uses, for live Twilio or for the emulator,
with an HTTP client that rides out a dropped keep-alive connection and reports what it cannot
as :class:`TwilioUnreachable`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from webapp import deadline
from webapp.config import Config

#: Seconds to wait for Twilio; well under a browser's patience. A webhook waits less: no
#: longer than its deadline allows (see :class:`ParleyHttpClient`).
TWILIO_TIMEOUT = 10.0
#: Methods whose repeat has the effect of one request (RFC 9110, 9.2.2). Twilio's
#: Conversations API takes no idempotency key on its creates (its spec lists none, unlike
#: e.g. Voice v3's ``Idempotency-Key``), so a POST is resent only when it carries that header.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
IDEMPOTENCY_HEADER = "Idempotency-Key"
#: Seconds a pooled connection may stay unused and still be used again: below the keep-alive
#: of the server Parley is most likely to talk to, gunicorn's (``keepalive = 5`` in
#: ``gunicorn.conf.py``, serving the in-process emulator), so that a request is not sent on a
#: connection the server is closing at that moment (a POST, which is not resent, would fail).
IDLE_LIMIT = 4.0


class TwilioUnreachable(TwilioException):
    """No answer from Twilio: the connection failed, was dropped, or timed out.

    A ``TwilioException``, so every caller that handles Twilio's failures handles this too.
    """


class _IdleLimitedPool(HTTPConnectionPool):
    """A urllib3 pool that closes a connection unused for longer than ``idle_limit`` instead
    of handing it out (a closed connection opens a new socket for its next request)."""

    idle_limit = IDLE_LIMIT

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)
        since = getattr(conn, "parley_idle_since", None)
        if since is not None and time.monotonic() - since > self.idle_limit:
            conn.close()
        return conn

    def _put_conn(self, conn: Any) -> None:
        if isinstance(conn, HTTPConnection):
            conn.parley_idle_since = time.monotonic()  # type: ignore[attr-defined]
        super()._put_conn(conn)


class _IdleLimitedHTTPSPool(_IdleLimitedPool, HTTPSConnectionPool):
    pass


class IdleLimitedAdapter(HTTPAdapter):
    """``requests``' adapter over :class:`_IdleLimitedPool` pools."""

    def __init__(self, idle_limit: float = IDLE_LIMIT, **kwargs: Any) -> None:
        self.idle_limit = idle_limit
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        limit = self.idle_limit
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("IdlePool", (_IdleLimitedPool,), {"idle_limit": limit}),
            "https": type("IdleHTTPSPool", (_IdleLimitedHTTPSPool,), {"idle_limit": limit}),
        }


def mount_idle_limited(
    session: requests.Session, idle_limit: float = IDLE_LIMIT, **pool: Any
) -> None:
    """Send ``session``'s requests (https and http) over pools that never reuse a connection
    left idle ``idle_limit`` seconds; ``pool`` is passed to the adapter (``pool_maxsize``)."""
    adapter = IdleLimitedAdapter(idle_limit, **pool)
    session.mount("https://", adapter)
    session.mount("http://", adapter)


class ParleyHttpClient(TwilioHttpClient):
    """The ``twilio`` library's HTTP client, with what a connection hiccup and a deadline need.

    Keep-alive connections are closed by the far side (Twilio's edge, proxies, a restarted
    emulator); a request sent as that happens fails with ``RemoteDisconnected`` or
    ``ConnectionResetError``. An idempotent request is then sent once more, on a new
    connection. A POST is not, unless it carries an idempotency key: a create may have reached
    Twilio, and a resend would make a second one (a message's ``client_id`` lets the page's own
    retry find the first). What still fails is raised as :class:`TwilioUnreachable`, never as
    a ``requests`` error.

    Each attempt waits no longer than the current request's deadline (:mod:`webapp.deadline`)
    allows; a wait cut short by it raises :class:`~webapp.deadline.DeadlineExceeded`.

    A connection unused for ``idle_limit`` seconds is not used again (see :data:`IDLE_LIMIT`),
    which keeps most POSTs away from that race in the first place.
    """

    def __init__(self, idle_limit: float = IDLE_LIMIT, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.session is not None:
            # The library's own adapter is https-only and sized to the CPUs; so is this one.
            size = self.session.get_adapter("https://")._pool_maxsize
            mount_idle_limited(self.session, idle_limit, pool_maxsize=size)

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        def attempt() -> Response:
            deadline.check()
            limit = deadline.capped(timeout or self.timeout)
            return super(ParleyHttpClient, self).request(
                method, url, params, data, headers, auth, limit, allow_redirects
            )

        try:
            return _resend_once_on_reset(attempt, method, headers)
        except requests.RequestException as exc:
            if deadline.expired():
                raise deadline.DeadlineExceeded("Twilio did not answer in time") from exc
            raise TwilioUnreachable(f"no answer ({type(exc).__name__})") from exc


def _resend_once_on_reset(
    attempt: Callable[[], Response], method: str, headers: dict[str, str] | None
) -> Response:
    try:
        return attempt()
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        # A timeout already spent the caller's whole wait: it is not sent again.
        if isinstance(exc, requests.Timeout) or not _replayable(method, headers):
            raise
    return attempt()


def _replayable(method: str, headers: dict[str, str] | None) -> bool:
    return method.upper() in IDEMPOTENT_METHODS or IDEMPOTENCY_HEADER in (headers or {})


class EmulatorHttpClient(ParleyHttpClient):
    """Sends every request meant for ``*.twilio.com`` to the emulator's origin instead.

    Path and query are kept, so the emulator sees exactly the request Twilio would.
    """

    def __init__(self, origin: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.origin = origin.rstrip("/")

    def rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        if not (parts.hostname or "").endswith("twilio.com"):
            return url
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.origin}{parts.path}{query}"

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        return super().request(method, self.rewrite(url), *args, **kwargs)


def build_client(config: Config) -> Client:
    """A Twilio REST client: real Twilio in live mode, the emulator otherwise."""
    origin = config.emulator_origin
    http_client = (
        EmulatorHttpClient(origin, timeout=TWILIO_TIMEOUT)
        if origin
        else ParleyHttpClient(timeout=TWILIO_TIMEOUT)
    )
    return Client(config.TWILIO_ACCOUNT_SID, config.TWILIO_AUTH_TOKEN, http_client=http_client)
