"""Builds the one ``twilio.rest.Client`` Parley uses, for live Twilio or for the emulator."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from webapp import deadline
from webapp.config import Config

#: Seconds to wait for Twilio; well under a browser's patience. A webhook waits less: no
#: longer than its deadline allows (see :class:`DeadlineHttpClient`).
TWILIO_TIMEOUT = 10.0


class DeadlineHttpClient(TwilioHttpClient):
    """Waits for Twilio no longer than the current request's deadline (:mod:`webapp.deadline`)
    allows; a wait cut short by it raises :class:`~webapp.deadline.DeadlineExceeded`."""

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
        deadline.check()
        limit = deadline.capped(timeout or self.timeout)
        try:
            return super().request(method, url, params, data, headers, auth, limit, allow_redirects)
        except requests.RequestException as exc:
            if deadline.expired():
                raise deadline.DeadlineExceeded("Twilio did not answer in time") from exc
            raise


class EmulatorHttpClient(DeadlineHttpClient):
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
        else DeadlineHttpClient(timeout=TWILIO_TIMEOUT)
    )
    return Client(config.TWILIO_ACCOUNT_SID, config.TWILIO_AUTH_TOKEN, http_client=http_client)
