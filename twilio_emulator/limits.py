"""The limits Twilio enforces on Conversations input, with the error each one raises.

Numbers from Twilio's Conversations limits page (and its error pages 50417, 50422, 50426):
Parley validates against the same numbers before it calls Twilio.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

from twilio_emulator import errors, sids

KB = 1024
MESSAGE_BODY_BYTES = 32 * KB
SMS_BODY_CHARS = 1600
MESSAGE_ATTRIBUTES_BYTES = 4 * KB
CONVERSATION_ATTRIBUTES_BYTES = 16 * KB
PARTICIPANT_ATTRIBUTES_BYTES = 4 * KB
USER_ATTRIBUTES_BYTES = 16 * KB
FRIENDLY_NAME_CHARS = 256
IDENTITY_CHARS = 256
ADDRESS_CHARS = 256
PARTICIPANTS_PER_CONVERSATION = 1000
NON_CHAT_PARTICIPANTS_PER_CONVERSATION = 50

E164 = re.compile(r"\+[1-9][0-9]{1,14}")
#: A phone reached over SMS (`+1…`) or WhatsApp (`whatsapp:+1…`, Twilio's address form).
CHANNEL_ADDRESS = re.compile(r"(?:whatsapp:)?\+[1-9][0-9]{1,14}")
WHATSAPP_PREFIX = "whatsapp:"
#: ISO 8601 durations in weeks, days, hours, minutes and seconds (years and months have no
#: fixed length, so Twilio's timers are written in these: PT10M, P1D, ...).
_DURATION = re.compile(
    r"P(?:(?P<weeks>\d{1,6})W)?(?:(?P<days>\d{1,7})D)?"
    r"(?:T(?:(?P<hours>\d{1,8})H)?(?:(?P<minutes>\d{1,10})M)?(?:(?P<seconds>\d{1,12})S)?)?"
)
#: Twilio's shortest timers, and the longest the emulator can date (it adds them to now).
TIMER_MINIMUMS = {"Timers.Inactive": timedelta(minutes=1), "Timers.Closed": timedelta(minutes=10)}
TIMER_MAXIMUM = timedelta(days=365 * 100)


def attributes(value: str | None, max_bytes: int) -> str | None:
    """Attributes must be structurally valid JSON and fit the resource's byte budget."""
    if value is None:
        return None
    if len(value.encode()) > max_bytes:
        raise errors.bad_request(
            errors.ATTRIBUTES_TOO_LONG, f"Attributes must not exceed {max_bytes} bytes"
        )
    try:
        json.loads(value)
    except RecursionError:
        # Nested deeper than Python's parser goes (within the byte budget, ~1,000 levels):
        # Twilio's parser takes it, and so must the emulator, so that clients meet it here.
        pass
    except ValueError:
        raise errors.bad_request(
            errors.ATTRIBUTES_NOT_JSON, "Attributes must be a valid JSON string"
        ) from None
    return value


def friendly_name(value: str | None) -> str | None:
    if value is not None and len(value) > FRIENDLY_NAME_CHARS:
        raise errors.bad_request(
            errors.FRIENDLY_NAME_TOO_LONG,
            f"FriendlyName must not exceed {FRIENDLY_NAME_CHARS} characters",
        )
    return value


def unique_name(value: str | None) -> str | None:
    """A unique name may not look like a conversation SID: the two share one path slot."""
    if value is not None and sids.looks_like(sids.CONVERSATION, value):
        raise errors.bad_request(
            errors.UNIQUE_NAME_LOOKS_LIKE_SID,
            "UniqueName must not match the Conversation SID pattern",
        )
    return value


def identity(value: str) -> str:
    if not value:
        raise errors.bad_request(errors.IDENTITY_NOT_PROVIDED, "Identity not provided")
    if len(value) > IDENTITY_CHARS:
        raise errors.bad_request(
            errors.IDENTITY_TOO_LONG, f"Identity must not exceed {IDENTITY_CHARS} characters"
        )
    if sids.looks_like(sids.USER, value):
        raise errors.bad_request(
            errors.IDENTITY_LOOKS_LIKE_USER_SID, "Identity must not match the User SID pattern"
        )
    return value


def phone_address(value: str, *, proxy: bool, channel: str = "sms") -> str:
    """SMS addresses are E.164 phone numbers of at most 256 characters; WhatsApp ones the
    same behind `whatsapp:`."""
    number = value.removeprefix(WHATSAPP_PREFIX) if channel == "whatsapp" else value
    if channel == "whatsapp" and number == value:
        number = ""
    if len(value) > ADDRESS_CHARS or not E164.fullmatch(number):
        if proxy:
            raise errors.bad_request(
                errors.INVALID_PROXY_ADDRESS,
                f"MessagingBinding.ProxyAddress must be {_ADDRESS_FORM[channel]}",
            )
        raise errors.bad_request(
            errors.INVALID_BINDING_ADDRESS,
            f"MessagingBinding.Address must be {_ADDRESS_FORM[channel]}",
        )
    return value


_ADDRESS_FORM = {
    "sms": "an E.164 phone number",
    "whatsapp": "whatsapp: and an E.164 phone number",
}


def channel_of(address: str) -> str:
    """The binding type Twilio gives an address: `whatsapp` for `whatsapp:+…`, else `sms`."""
    return "whatsapp" if address.startswith(WHATSAPP_PREFIX) else "sms"


def timer(name: str, value: str | None) -> timedelta | None:
    """`Timers.Inactive` / `Timers.Closed`: an ISO 8601 duration of at least Twilio's minimum;
    zero (`PT0S`) clears the timer."""
    if not value:
        return None
    inactive = name == "Timers.Inactive"
    found = _DURATION.fullmatch(value)
    length = None
    if found and value not in ("P", "PT") and not value.endswith("T"):
        parts = {unit: int(amount) for unit, amount in found.groupdict(default="0").items()}
        length = timedelta(**parts)
    if length is None or length > TIMER_MAXIMUM:
        code = errors.TIMER_INACTIVE_INVALID if inactive else errors.TIMER_CLOSED_INVALID
        raise errors.bad_request(code, f"{name} must be an ISO 8601 duration, e.g. PT10M")
    if length and length < TIMER_MINIMUMS[name]:
        code = errors.TIMER_INACTIVE_TOO_SHORT if inactive else errors.TIMER_CLOSED_TOO_SHORT
        raise errors.bad_request(code, f"{name} must be at least {TIMER_MINIMUMS[name]}")
    return length


def message_content(content_sid: str | None, content_variables: str | None) -> None:
    """Content templates (Twilio's Content API) are not emulated, so a message can name none:
    Twilio answers the same for a template that does not exist. (Media is: `MediaSid`.)"""
    if content_sid:
        raise errors.bad_request(errors.CONTENT_NOT_FOUND, f"Content not found: {content_sid}")
    if content_variables:
        raise errors.bad_request(
            errors.CONTENT_SID_MISSING, "ContentVariables were sent without a ContentSid"
        )


def message_body(value: str | None) -> str | None:
    if value is not None and len(value.encode()) > MESSAGE_BODY_BYTES:
        raise errors.bad_request(
            errors.MESSAGE_BODY_TOO_LONG,
            f"Message body must not exceed {MESSAGE_BODY_BYTES} bytes",
        )
    return value
