"""Twilio resource identifiers: two-letter prefix plus 32 lowercase hex digits."""

from __future__ import annotations

import re
import secrets

CONVERSATION = "CH"
PARTICIPANT = "MB"
MESSAGE = "IM"
SERVICE = "IS"
USER = "US"
WEBHOOK = "WH"
MEDIA = "ME"
DELIVERY_RECEIPT = "DY"
SMS_MESSAGE = "SM"
MMS_MESSAGE = "MM"


def new_sid(prefix: str) -> str:
    """A fresh random SID with the given prefix."""
    return prefix + secrets.token_hex(16)


def looks_like(prefix: str, value: str) -> bool:
    """Whether `value` has the shape of a SID of this kind (Twilio reserves that shape)."""
    return re.fullmatch(prefix + r"[0-9a-fA-F]{32}", value) is not None
