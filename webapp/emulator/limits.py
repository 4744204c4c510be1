"""The limits Twilio enforces on Conversations input, with the error each one raises.

Numbers from Twilio's Conversations limits page (see docs/twilio-contract.md, "Limits"): Parley
validates against the same numbers before it calls Twilio.
"""

from __future__ import annotations

import json
import re

from webapp.emulator import errors, sids

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

_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


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


def phone_address(value: str, *, proxy: bool) -> str:
    """SMS addresses are E.164 phone numbers of at most 256 characters."""
    if len(value) > ADDRESS_CHARS or not _E164.fullmatch(value):
        if proxy:
            raise errors.bad_request(
                errors.INVALID_PROXY_ADDRESS,
                "MessagingBinding.ProxyAddress must be an E.164 phone number",
            )
        raise errors.bad_request(
            errors.INVALID_BINDING_ADDRESS,
            "MessagingBinding.Address must be an E.164 phone number",
        )
    return value


def message_body(value: str | None) -> str | None:
    if value is not None and len(value.encode()) > MESSAGE_BODY_BYTES:
        raise errors.bad_request(
            errors.MESSAGE_BODY_TOO_LONG,
            f"Message body must not exceed {MESSAGE_BODY_BYTES} bytes",
        )
    return value
