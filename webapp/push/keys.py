"""VAPID keys (RFC 8292): the P-256 pair push services check every request of Parley's with.

Both halves travel as base64url, the form browsers take the public key in
(``applicationServerKey``) and ``flask push keys`` prints: the public key as its 65-byte
uncompressed point, the private key as its 32-byte scalar.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from webapp.config import ConfigError


class VapidKeyError(ConfigError):
    """The configured keys are not a pair, or not keys at all."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_raw(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def generate_keys() -> tuple[str, str]:
    """A new pair: (public, private), both base64url."""
    private = ec.generate_private_key(ec.SECP256R1())
    scalar = private.private_numbers().private_value.to_bytes(32, "big")
    return b64url(public_raw(private.public_key())), b64url(scalar)


def load_vapid(public_key: str, private_key: str) -> Vapid02:
    """The signer for ``private_key``, refused unless ``public_key`` is its own half: browsers
    subscribe with the public key, and a push signed by another key is answered 403."""
    try:
        vapid = Vapid02.from_string(private_key)
    except Exception as exc:  # py_vapid wraps every parse failure differently
        raise VapidKeyError(f"PARLEY_VAPID_PRIVATE_KEY is not a P-256 private key: {exc}") from None
    if b64url(public_raw(vapid.public_key)) != public_key:
        raise VapidKeyError(
            "PARLEY_VAPID_PUBLIC_KEY is not the public half of PARLEY_VAPID_PRIVATE_KEY: set both "
            "from one run of `flask --app wsgi push keys`."
        )
    return vapid
