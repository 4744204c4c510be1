"""One Web Push request: encrypt (RFC 8291, ``aes128gcm``), sign (VAPID, RFC 8292), post.

:mod:`pywebpush` encrypts; the VAPID header is made here so that every request carries the
``aud`` of its own push service and a ``Topic`` (RFC 8030) per conversation, which makes a
push service keep only the newest undelivered push of a conversation.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import requests
from py_vapid import Vapid02
from pywebpush import WebPusher

log = logging.getLogger(__name__)

#: Seconds a push service keeps a push for a browser that is offline (a chat message older
#: than half a day is better found in the app than in a notification).
PUSH_TTL = 12 * 3600
#: Seconds a VAPID token stays valid; push services refuse more than 24 h.
TOKEN_LIFETIME = 12 * 3600
#: Seconds to wait for a push service.
SEND_TIMEOUT = 10.0
#: Statuses with which a push service says the subscription is gone for good.
GONE = (404, 410)
#: Longest ``Retry-After`` honoured, in seconds (a push later than that is stale news).
RETRY_AFTER_MAX = 600.0


class Answer(NamedTuple):
    """A push service's answer: its status (0: not reached) and the ``Retry-After`` it asked
    for, in seconds, if any."""

    status: int
    retry_after: float | None = None

    @property
    def transient(self) -> bool:
        """Worth another try: not reached, too many requests (429), or a server error."""
        return self.status in (0, 429) or 500 <= self.status < 600


def retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (RFC 9110: delay-seconds or an HTTP date), capped at
    :data:`RETRY_AFTER_MAX`; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), RETRY_AFTER_MAX)


@dataclass(frozen=True)
class Subscription:
    """Where one browser takes pushes, and the keys they are encrypted for."""

    endpoint: str
    p256dh: str
    auth: str


def topic_for(conversation_sid: str) -> str:
    """RFC 8030's ``Topic``: at most 32 characters of base64url. A conversation SID is 34, so
    its hash stands in (the same conversation, the same topic)."""
    digest = hashlib.sha256(conversation_sid.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:32]


class PushSender:
    """Sends encrypted, signed pushes; one per app, shared by the dispatcher's thread."""

    def __init__(self, vapid: Vapid02, subject: str, session: requests.Session | None = None):
        self.vapid = vapid
        self.subject = subject
        self.session = session or requests.Session()
        self._tokens: dict[str, tuple[float, str]] = {}

    def send(self, subscription: Subscription, payload: dict[str, Any], topic: str) -> Answer:
        """The push service's answer (status 0 when it could not be reached)."""
        headers = {
            "Authorization": self._authorization(subscription.endpoint),
            "Topic": topic,
            "Urgency": "high",  # a person wrote: wake the device
        }
        pusher = WebPusher(
            {
                "endpoint": subscription.endpoint,
                "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
            },
            requests_session=self.session,
        )
        data = json.dumps(payload, separators=(",", ":")).encode()
        try:
            response = pusher.send(
                data,
                headers=headers,
                ttl=PUSH_TTL,
                content_encoding="aes128gcm",
                timeout=SEND_TIMEOUT,
            )
        except (requests.RequestException, ValueError) as exc:
            log.warning("push to %s failed: %s", urlsplit(subscription.endpoint).netloc, exc)
            return Answer(0)
        return Answer(int(response.status_code), retry_after(response.headers.get("Retry-After")))

    def _authorization(self, endpoint: str) -> str:
        """``vapid t=<JWT>,k=<public key>``, reused per push service until near its expiry
        (signing costs more than the rest of a push)."""
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        now = time.time()
        cached = self._tokens.get(audience)
        if cached is not None and cached[0] - now > TOKEN_LIFETIME / 2:
            return cached[1]
        expires = int(now) + TOKEN_LIFETIME
        header = self.vapid.sign({"aud": audience, "exp": expires, "sub": self.subject})
        value: str = header["Authorization"]
        self._tokens[audience] = (expires, value)
        return value
