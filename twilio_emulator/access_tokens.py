"""Twilio access tokens (the JWTs Parley's `/api/token` issues) as a way to call the emulator.

Twilio's client-side SDKs authenticate with an access token in the `X-Twilio-Token` header, not
with basic auth. The emulator accepts that header on its Conversations REST paths, checks the
token as Twilio documents it, and lets the caller act as the token's identity: only in
conversations it takes part in (see `access.py`). The checks, each with the code of Twilio's
error dictionary (https://www.twilio.com/docs/api/errors/<code>), all answered 401:

- 20101 not a JWT, or no `identity` / no ChatGrant for the service in the path;
- 20102 header not `typ=JWT`, `alg=HS256`, `cty=twilio-fpa;v=1`;
- 20103 `iss` is not an API key the emulator knows, or `sub` is not its account;
- 20107 the signature does not verify with that API key's secret;
- 20104 `exp` passed, missing, or more than 24 hours after `iat` (Twilio's maximum TTL);
- 20105 `nbf` still in the future.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import jwt

from twilio_emulator import errors
from twilio_emulator.settings import EmulatorSettings

HEADER = "X-Twilio-Token"
CONTENT_TYPE = "twilio-fpa;v=1"
MAX_TTL = 24 * 3600
#: Seconds of clock difference tolerated on `exp` and `nbf`.
LEEWAY = 0

INVALID = 20101
INVALID_HEADER = 20102
INVALID_ISSUER = 20103
EXPIRED = 20104
NOT_YET_VALID = 20105
INVALID_SIGNATURE = 20107


@dataclass(frozen=True)
class TokenCaller:
    """Who an access token says the caller is, and the service its ChatGrant is for."""

    identity: str
    service_sid: str


def _refuse(code: int, message: str) -> errors.TwilioError:
    return errors.TwilioError(401, code, message)


def _claims(token: str, settings: EmulatorSettings) -> dict[str, Any]:
    """The verified payload, or the Twilio error saying which check failed."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise _refuse(INVALID, "Invalid Access Token") from None
    if (header.get("typ"), header.get("alg"), header.get("cty")) != ("JWT", "HS256", CONTENT_TYPE):
        raise _refuse(INVALID_HEADER, "Invalid Access Token header")
    keys = {settings.api_key_sid: settings.api_key_secret}
    secret = keys.get(str(unverified.get("iss")))
    if secret is None or unverified.get("sub") != settings.account_sid:
        raise _refuse(INVALID_ISSUER, "Invalid Access Token issuer/subject")
    try:
        with warnings.catch_warnings():
            # The emulator's fixed API key secret is short; it is a fake, say nothing.
            warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
            claims: dict[str, Any] = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
    except jwt.PyJWTError:
        raise _refuse(INVALID_SIGNATURE, "Invalid Access Token signature") from None
    return claims


def _check_times(claims: dict[str, Any], now: float) -> None:
    exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat", now)
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise _refuse(EXPIRED, "Access Token expired or expiration date invalid")
    if exp <= now - LEEWAY or exp - min(iat, now) > MAX_TTL:
        raise _refuse(EXPIRED, "Access Token expired or expiration date invalid")
    if isinstance(nbf, int | float) and nbf > now + LEEWAY:
        raise _refuse(NOT_YET_VALID, "Access Token not yet valid")


def verify(token: str, settings: EmulatorSettings, service_sid: str) -> TokenCaller:
    """Check `token` for a call on `service_sid`; the caller it identifies, or a 401."""
    claims = _claims(token, settings)
    _check_times(claims, time.time())
    grants = claims.get("grants")
    identity = grants.get("identity") if isinstance(grants, dict) else None
    chat = grants.get("chat") if isinstance(grants, dict) else None
    if not isinstance(identity, str) or not identity:
        raise _refuse(INVALID, "Invalid Access Token: no identity")
    granted = chat.get("service_sid") if isinstance(chat, dict) else None
    if granted != service_sid:
        raise _refuse(INVALID, f"Invalid Access Token: no ChatGrant for service {service_sid}")
    return TokenCaller(identity, service_sid)
