"""Checking (and, for trying it by hand, making) the tokens a host site signs for its users.

Every rule here refuses by construction rather than by a later check: the algorithm is the
configured key's (``keys.py``), every claim Parley relies on is required, lifetimes are
short, and the clock allowance is small. A refusal carries two texts: one for the person
(general terms) and one for the log (the exact reason, for the host's developer).
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt

from webapp.models import DISPLAY_NAME_MAX_CHARS, is_valid_identity
from webapp.sso.keys import VerificationKey

#: Clock difference allowed between the host and Parley (the issue's ceiling: 30 s).
LEEWAY_SECONDS = 30
#: A token is a hand-over, not a credential to keep: ``exp - iat`` may not exceed this.
MAX_LIFETIME_SECONDS = 120
#: Longer than any honest token (a few hundred bytes), short enough to parse without cost.
MAX_TOKEN_BYTES = 8 * 1024
MAX_JTI_CHARS = 256
REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat", "jti")
#: The claim that tells a back-channel logout token from a login token. A login token must
#: not carry it, so a logout token can never be used to sign someone in.
PURPOSE_CLAIM = "purpose"
LOGOUT_PURPOSE = "logout"

INVALID = "The sign-in link from your site is not valid."
EXPIRED = "The sign-in link from your site has expired."
USED = "This sign-in link was already used."


class TokenRefused(Exception):
    """A token Parley will not act on: ``public`` is shown, ``detail`` is logged."""

    def __init__(self, public: str, detail: str) -> None:
        super().__init__(detail)
        self.public = public
        self.detail = detail


@dataclass(frozen=True)
class HostIdentity:
    """What a verified token says: who (``sub``, the Twilio identity), their name, where to
    land, and until when the token could be replayed (``exp``, for the once-only store)."""

    identity: str
    jti: str
    expires_at: float
    display_name: str | None = None
    next_path: str | None = None


@dataclass(frozen=True)
class TokenRules:
    """The configured expectations every token is checked against."""

    key: VerificationKey
    issuer: str
    audience: str

    def verify(self, token: object, *, purpose: str | None = None) -> HostIdentity:
        """The identity a valid token names; :class:`TokenRefused` otherwise. ``purpose``
        ``None`` is a login token (no purpose claim); ``"logout"`` a back-channel logout."""
        if not isinstance(token, str) or not token:
            raise TokenRefused(INVALID, "no token in the request's form field 'token'")
        if len(token.encode(errors="replace")) > MAX_TOKEN_BYTES:
            raise TokenRefused(INVALID, f"token longer than {MAX_TOKEN_BYTES} bytes")
        claims = self._decode(token)
        found = claims.get(PURPOSE_CLAIM)
        if found != purpose:
            detail = f"{PURPOSE_CLAIM!r} is {str(found)[:40]!r}, not {purpose!r}"
            raise TokenRefused(INVALID, detail)
        return _identity(claims)

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.key.key,
                algorithms=[self.key.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": list(REQUIRED_CLAIMS), "strict_aud": True},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenRefused(EXPIRED, f"expired: {exc}") from None
        except jwt.PyJWTError as exc:
            raise TokenRefused(INVALID, f"{exc.__class__.__name__}: {exc}") from None
        except (ValueError, TypeError, OverflowError) as exc:  # e.g. exp: Infinity
            raise TokenRefused(INVALID, f"unreadable claims ({exc.__class__.__name__})") from None
        return claims

    def issue(
        self,
        subject: str,
        *,
        name: str | None = None,
        next_path: str | None = None,
        purpose: str | None = None,
        lifetime: int = 60,
    ) -> str:
        """A token as a host's endpoint would make it (HS256 only: Parley holds no private
        key). For ``flask sso token`` and the tests."""
        if not self.key.can_sign:
            raise ValueError(
                "Parley has only the host's public key (PARLEY_SSO_PUBLIC_KEY) and cannot sign "
                "tokens: make them with the host's private key."
            )
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
        }
        optional = {"name": name, "next": next_path, PURPOSE_CLAIM: purpose}
        claims.update({k: v for k, v in optional.items() if v is not None})
        return jwt.encode(claims, self.key.key, algorithm=self.key.algorithm)  # type: ignore[arg-type]


def _identity(claims: dict[str, Any]) -> HostIdentity:
    sub, jti, exp, iat = claims["sub"], claims["jti"], claims["exp"], claims["iat"]
    if not all(_is_time(t) for t in (exp, iat)):
        raise TokenRefused(INVALID, "'exp' and 'iat' must be NumericDate numbers")
    if not isinstance(sub, str) or not is_valid_identity(sub):
        raise TokenRefused(INVALID, f"'sub' is not an identity Twilio accepts: {str(sub)[:60]!r}")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_CHARS:
        raise TokenRefused(INVALID, f"'jti' must be a string of 1 to {MAX_JTI_CHARS} characters")
    if not exp - iat <= MAX_LIFETIME_SECONDS:
        raise TokenRefused(
            INVALID, f"lifetime exp - iat = {exp - iat} s, over {MAX_LIFETIME_SECONDS} s"
        )
    return HostIdentity(
        identity=sub,
        jti=jti,
        expires_at=float(exp),
        display_name=clean_display_name(claims.get("name")),
        next_path=_next_path(claims.get("next")),
    )


def _is_time(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value < 2**40
    )


def clean_display_name(value: object) -> str | None:
    """A name to show others: at most ``DISPLAY_NAME_MAX_CHARS``, one line, no control
    characters; ``None`` for none (or only blanks)."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > DISPLAY_NAME_MAX_CHARS:
        raise TokenRefused(INVALID, f"'name' must be a string of at most {DISPLAY_NAME_MAX_CHARS}")
    name = " ".join(value.split())  # no newlines or runs of blanks in a name shown to others
    if any(not c.isprintable() for c in name):
        raise TokenRefused(INVALID, "'name' holds control characters")
    return name or None


def _next_path(value: object) -> str | None:
    """A path on Parley only: ``//evil.example`` and ``/\\evil.example`` are read by browsers
    as other sites, and any scheme (``javascript:``, ``https:``) leaves Parley."""
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(not c.isprintable() or c.isspace() for c in value)
        or len(value) > 2048
    ):
        raise TokenRefused(INVALID, f"'next' is not a path on Parley: {str(value)[:60]!r}")
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        raise TokenRefused(INVALID, f"'next' is not a path on Parley: {value[:60]!r}")
    return value
