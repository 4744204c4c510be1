"""A Web Push endpoint stand-in that checks requests as the browsers' push services do.

It serves ``POST /push/<token>`` over real HTTP. A request is accepted (201) only with a
VAPID ``Authorization`` (RFC 8292: ``vapid t=<ES256 JWT>,k=<public key>``) whose signature
checks with the expected application server key and whose ``aud`` is this service's origin,
``exp`` in the next 24 hours and ``sub`` a ``mailto:`` or ``https:`` contact, with a ``TTL``,
a valid ``Topic`` if any, and an ``aes128gcm`` body (RFC 8188) that decrypts (RFC 8291) with
the subscription's private key and auth secret, which only the test holds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from werkzeug.wrappers import Request, Response

from tests.support.servers import Served

_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


@dataclass
class BrowserKeys:
    """What a browser makes when it subscribes: a P-256 pair and a 16-byte auth secret."""

    private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64url(_raw(self.private.public_key()))

    def decrypt(self, body: bytes) -> bytes:
        """RFC 8291 section 3.4 and RFC 8188: one record, its padding removed."""
        salt, record_size, id_length = body[:16], int.from_bytes(body[16:20], "big"), body[20]
        sender_raw = body[21 : 21 + id_length]
        ciphertext = body[21 + id_length :]
        if id_length != 65 or len(ciphertext) > record_size:
            raise ValueError("not one aes128gcm record with the sender's key as its key id")
        sender = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_raw)
        shared = self.private.exchange(ec.ECDH(), sender)
        key_info = b"WebPush: info\x00" + _raw(self.private.public_key()) + sender_raw
        ikm = _hmac(_hmac(self.auth, shared), key_info + b"\x01")
        prk = _hmac(salt, ikm)
        cek = _hmac(prk, b"Content-Encoding: aes128gcm\x00\x01")[:16]
        nonce = _hmac(prk, b"Content-Encoding: nonce\x00\x01")[:12]
        padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
        plain = padded.rstrip(b"\x00")
        if not plain.endswith(b"\x02"):  # the last record's delimiter
            raise ValueError("no last-record delimiter")
        return plain[:-1]


@dataclass
class Delivery:
    token: str
    payload: dict[str, Any]
    headers: dict[str, str]


class PushService:
    """The stand-in: register a subscription with :meth:`subscribe`, read :attr:`received`."""

    def __init__(self, vapid_public_key: str) -> None:
        self.vapid_public_key = vapid_public_key
        self.subscriptions: dict[str, BrowserKeys] = {}
        #: token → the status to answer instead of delivering (e.g. 410: unsubscribed), or a
        #: list of them, answered one per push in turn and then delivering again.
        self.answers: dict[str, int | list[int]] = {}
        #: ``Retry-After`` sent with a 429 or 503 answered as told (None: none).
        self.retry_after: str | None = None
        self.received: list[Delivery] = []
        self.refused: list[str] = []
        self._lock = threading.Lock()
        self._served = Served(self._app)

    @property
    def url(self) -> str:
        return self._served.url

    def stop(self) -> None:
        self._served.stop()

    def subscribe(self, token: str) -> dict[str, Any]:
        """A new subscription, as ``PushSubscription.toJSON()`` gives it to the page."""
        keys = self.subscriptions[token] = BrowserKeys()
        return {
            "endpoint": f"{self.url}/push/{token}",
            "keys": {"p256dh": keys.p256dh, "auth": b64url(keys.auth)},
        }

    def deliveries(self, token: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.received if d.token == token]

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            status, text = self._handle(request)
        except (PermissionError, jwt.PyJWTError) as exc:
            status, text = 403, f"VAPID refused: {exc}"
        except Exception as exc:  # noqa: BLE001 - a refusal the test reads
            status, text = 400, f"{type(exc).__name__}: {exc}"
        if status >= 400:
            with self._lock:
                self.refused.append(text)
        headers = (
            {"Retry-After": self.retry_after} if self.retry_after and status in (429, 503) else {}
        )
        return Response(text, status=status, headers=headers)(environ, start_response)

    def _handle(self, request: Request) -> tuple[int, str]:
        match = re.fullmatch(r"/push/([\w-]+)", request.path)
        if request.method != "POST" or not match or match.group(1) not in self.subscriptions:
            return 404, "no such subscription"
        token = match.group(1)
        self._check_vapid(request.headers.get("Authorization", ""))
        if not request.headers.get("TTL", "").isdigit():
            return 400, "TTL header missing"
        topic = request.headers.get("Topic")
        if topic is not None and not _TOPIC.fullmatch(topic):
            return 400, f"bad Topic {topic!r}"
        if request.headers.get("Content-Encoding") != "aes128gcm":
            return 415, "Content-Encoding must be aes128gcm"
        told = self.answers.get(token)
        if isinstance(told, list) and told:
            return told.pop(0), "answered as told"
        if isinstance(told, int):
            return told, "answered as told"
        plain = self.subscriptions[token].decrypt(request.get_data())
        with self._lock:
            self.received.append(Delivery(token, json.loads(plain), dict(request.headers)))
        return 201, ""

    def _check_vapid(self, authorization: str) -> None:
        match = re.fullmatch(r"vapid t=([\w.-]+),\s*k=([\w-]+)", authorization)
        if not match:
            raise PermissionError(f"not a VAPID Authorization: {authorization[:40]!r}")
        token, key = match.groups()
        if key != self.vapid_public_key:
            raise PermissionError("k is not the application server key subscribed with")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        claims = jwt.decode(
            token, public, algorithms=["ES256"], audience=self.url, options={"require": ["exp"]}
        )
        if claims["exp"] > time.time() + 24 * 3600:
            raise PermissionError("exp more than 24 hours ahead")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https://")):
            raise PermissionError("sub is not a mailto: or https: contact")
