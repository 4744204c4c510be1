"""The key a host site's tokens are checked with, and the one algorithm that goes with it.

The algorithm comes from the configured key, never from a token's header: with a shared
secret only HS256, with a public key only the signature scheme of that key's type. A token
that says ``alg: none``, or HS256 "signed" with the public key as an HMAC secret, then names
an algorithm that is simply not allowed (RFC 8725 §2.1).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

#: A shared secret shorter than the HS256 output (32 bytes) can be guessed offline from any
#: token that leaks; RFC 7518 §3.2 asks for at least that much.
MIN_SECRET_BYTES = 32
MIN_RSA_BITS = 2048

VerificationKeyObject = (
    str | rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
) | ed448.Ed448PublicKey


@dataclass(frozen=True)
class VerificationKey:
    """What ``jwt.decode`` gets: the key and the only algorithm accepted with it."""

    algorithm: str
    key: VerificationKeyObject

    @property
    def can_sign(self) -> bool:
        """Only a shared secret can also make tokens (``flask sso token``)."""
        return self.algorithm == "HS256"


def verification_key(secret: str | None, public_key_pem: str | None) -> VerificationKey | None:
    """The configured key, or ``None`` when SSO is off; ``ValueError`` says what is wrong."""
    if secret and public_key_pem:
        raise ValueError(
            "set PARLEY_SSO_SECRET (HS256) or PARLEY_SSO_PUBLIC_KEY (ES256, RS256, EdDSA), not "
            "both: the algorithm follows from the one key configured."
        )
    if secret:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"PARLEY_SSO_SECRET must be at least {MIN_SECRET_BYTES} bytes long, e.g. "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`."
            )
        return VerificationKey("HS256", secret)
    if public_key_pem:
        return _public_key(public_key_pem)
    return None


def _public_key(pem: str) -> VerificationKey:
    if "\n" not in pem.strip():
        pem = pem.replace("\\n", "\n")  # one-line form, as some platforms store variables
    try:
        key = load_pem_public_key(pem.encode())
    except ValueError:
        raise ValueError(
            "PARLEY_SSO_PUBLIC_KEY is not a PEM public key (-----BEGIN PUBLIC KEY-----...): "
            "give the host's public key, never its private key."
        ) from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise ValueError(f"PARLEY_SSO_PUBLIC_KEY: an RSA key needs {MIN_RSA_BITS} bits.")
        return VerificationKey("RS256", key)
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("PARLEY_SSO_PUBLIC_KEY: an EC key must be on P-256 (ES256).")
        return VerificationKey("ES256", key)
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return VerificationKey("EdDSA", key)
    raise ValueError("PARLEY_SSO_PUBLIC_KEY must be an RSA, P-256 EC or Ed25519 public key.")
