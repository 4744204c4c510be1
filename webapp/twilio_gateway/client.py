"""Builds the one ``twilio.rest.Client`` Parley uses, for live Twilio or for the emulator."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from webapp.config import Config

#: Seconds to wait for Twilio; well under a browser's patience and the webhook's 5 s window.
TWILIO_TIMEOUT = 10.0


class EmulatorHttpClient(TwilioHttpClient):
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
        else TwilioHttpClient(timeout=TWILIO_TIMEOUT)
    )
    return Client(config.TWILIO_ACCOUNT_SID, config.TWILIO_AUTH_TOKEN, http_client=http_client)
