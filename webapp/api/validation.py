"""Reading and checking JSON request bodies; every failure is a clear 400."""

from __future__ import annotations

import re
from typing import Any

from flask import g, request

from webapp.errors import ApiError
from webapp.json_input import InvalidJson, loads
from webapp.models import User, is_valid_identity


def request_json() -> Any:
    """The request's body, parsed once and strictly (:mod:`webapp.json_input`); 400 when it
    is not JSON Parley accepts, 413 (from werkzeug) when it is over the request size cap."""
    if "request_json" not in g:
        try:
            g.request_json = loads(request.get_data(cache=True))
        except InvalidJson as exc:
            raise ApiError(400, "invalid_json", str(exc)) from None
    return g.request_json


def json_body(allowed: set[str]) -> dict[str, Any]:
    """The request's JSON object, refusing other content types, bad JSON and unknown fields."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    body = request_json()
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    unknown = set(body) - allowed
    if unknown:
        raise ApiError(400, "unknown_field", f"Unknown field: {sorted(unknown)[0]}.")
    return body


def string_field(
    body: dict[str, Any], name: str, *, max_length: int, required: bool = True
) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(400, "missing_field", f"'{name}' is required.")
        return None
    if not isinstance(value, str):
        raise ApiError(400, "invalid_field", f"'{name}' must be a string.")
    if len(value.encode()) > max_length:
        raise ApiError(400, "too_long", f"'{name}' is too long: at most {max_length} bytes.")
    return value


def int_arg(name: str, default: int | None, *, low: int, high: int) -> int | None:
    """A query-string integer within ``[low, high]``."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"'{name}' must be a whole number.") from None
    if not low <= value <= high:
        raise ApiError(400, "invalid_parameter", f"'{name}' must be between {low} and {high}.")
    return value


def identity_arg(raw: str) -> str:
    """A well-formed Twilio identity (a username, or a host site's user id such as ``42``)."""
    if not is_valid_identity(raw):
        raise ApiError(400, "invalid_identity", f"'{raw[:40]}' is not a valid identity.")
    return raw


def known_user(raw: str) -> User:
    """The user an identity names. Identities are exact (a host's ``User|42`` is not
    ``user|42``); a username typed with capitals or spaces still finds its password account."""
    user = User.by_identity(raw) or User.by_username(raw)
    if user is None:
        identity_arg(raw)  # 400 for what cannot be an identity, 404 for nobody
        raise ApiError(404, "unknown_user", f"There is no user called '{raw[:40]}'.")
    return user


_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
#: Spaces, dashes, dots and brackets people type inside phone numbers; E.164 has none.
_PHONE_PUNCTUATION = re.compile(r"[\s\-.()]")


def phone_number(raw: str) -> str:
    """A phone number in E.164 form (``+15551234567``), as Twilio needs it for SMS.

    Punctuation people type (``+1 555-123-4567``) is dropped; a number without its ``+`` and
    country code is refused rather than guessed, because a wrong guess texts a stranger.
    """
    number = _PHONE_PUNCTUATION.sub("", raw)
    if not _E164.fullmatch(number):
        raise ApiError(
            400,
            "invalid_phone_number",
            f"'{raw[:40]}' is not a phone number in international (E.164) form, "
            "like +15551234567: a + then the country code and number, up to 15 digits.",
        )
    return number


#: Twilio's address form for a WhatsApp user: ``whatsapp:`` then E.164.
WHATSAPP_PREFIX = "whatsapp:"


def phone_address(raw: str) -> str:
    """A phone participant's address: E.164 for SMS, or ``whatsapp:`` and E.164 for WhatsApp
    (the prefix in any case, as people type it; Twilio wants it lower-case)."""
    text = raw.strip()
    if text[: len(WHATSAPP_PREFIX)].lower() == WHATSAPP_PREFIX:
        return WHATSAPP_PREFIX + phone_number(text[len(WHATSAPP_PREFIX) :])
    return phone_number(text)
