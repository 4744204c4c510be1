"""The JSON shapes Parley's API and stream send to browsers, built in one place."""

from __future__ import annotations

import re
from datetime import datetime
from operator import attrgetter
from typing import Any

from webapp.twilio_gateway import ConversationRecord, MessageRecord, ParticipantRecord
from webapp.twilio_gateway.media import MediaResource
from webapp.twilio_gateway.records import MediaRecord

_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
_WHATSAPP = re.compile(r"whatsapp:\+[1-9][0-9]{6,14}")

#: Twilio's delivery error codes people meet most, in words (twilio.com/docs/api/errors).
DELIVERY_REASONS = {
    30003: "the phone is switched off or out of reach",
    30004: "the recipient blocked the message",
    30005: "the number does not exist or is no longer in service",
    30006: "the number is a landline or cannot take texts",
    30007: "the carrier filtered it as spam",
    30008: "the carrier could not deliver it",
    30019: "the files are too large to send as MMS",
    63021: "that kind of file cannot be sent to this phone",
    63016: "WhatsApp takes free-form messages only within 24 hours of the person's last message",
}


#: The fields :func:`iso` writes, in order.
_ISO_FIELDS = attrgetter("year", "month", "day", "hour", "minute", "second")


def iso(value: datetime) -> str:
    """``value`` as Twilio writes times, to the second: ``2026-01-31T09:05:00Z`` (its fields
    as they are, so pass UTC). Formatted by hand: ``strftime`` costs twice as much, and every
    message event formats one or two."""
    if value.year < 1000:  # strftime does not pad such years to four digits: keep its answer
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % _ISO_FIELDS(value)  # noqa: UP031 - the fastest


def media_json(media: MediaRecord | MediaResource) -> dict[str, Any]:
    """One file: in a message, or just uploaded (the page sends its ``sid`` with a message)."""
    return {
        "sid": media.sid,
        "filename": media.filename,
        "content_type": media.content_type,
        "size": media.size,
    }


def message_json(message: MessageRecord) -> dict[str, Any]:
    return {
        "sid": message.sid,
        "index": message.index,
        "conversation_sid": message.conversation_sid,
        "author": message.author,
        "body": message.body or "",  # a message may carry media and no text
        "media": [media_json(m) for m in message.media],
        # Twilio's summary of the texts to phones, for a page that missed their receipts.
        "delivery": message.delivery,
        "attributes": message.attributes,
        "edited": bool(message.attributes.get("edited")),
        "date_created": iso(message.date_created),
        "date_updated": message.date_updated and iso(message.date_updated),
        # Twilio's message resource has no channel field: an E.164 author is an SMS participant.
        "source": message_source(message.author),
    }


def message_source(author: str | None) -> str:
    """``SMS`` for an E.164 author, ``WHATSAPP`` for ``whatsapp:+…``, else ``CHAT``."""
    if author and _PHONE.fullmatch(author):
        return "SMS"
    if author and _WHATSAPP.fullmatch(author):
        return "WHATSAPP"
    return "CHAT"


def delivery_json(
    conversation_sid: str,
    message_sid: str,
    participant: ParticipantRecord | None,
    status: str,
    error_code: int | None,
) -> dict[str, Any]:
    """One phone's delivery of one message, with Twilio's reason in words when it failed."""
    failed = status in ("failed", "undelivered")
    reason = DELIVERY_REASONS.get(error_code or 0, f"Twilio error {error_code}") if failed else None
    return {
        "conversation_sid": conversation_sid,
        "message_sid": message_sid,
        "participant_sid": participant.sid if participant else None,
        "address": participant.address if participant else None,
        "status": status,
        "error_code": error_code or None,
        "reason": reason if error_code else ("not delivered" if failed else None),
    }


def participant_json(participant: ParticipantRecord) -> dict[str, Any]:
    return {
        "sid": participant.sid,
        "identity": participant.identity,
        "address": participant.address,
        # Set by Parley when a participant adds another ("alice added carol"); None otherwise.
        "added_by": participant.attributes.get("added_by"),
        # Set by Parley just before it removes an SMS participant ("alice removed +1555…").
        "removed_by": participant.attributes.get("removed_by"),
    }


def participant_name(participant: ParticipantRecord) -> str:
    return participant.identity or participant.address or participant.sid


def conversation_json(
    conversation: ConversationRecord,
    participants: list[ParticipantRecord],
    last_message: MessageRecord | None,
    unread_count: int = 0,
) -> dict[str, Any]:
    last_activity = max(
        conversation.date_updated,
        conversation.date_created,
        last_message.date_created if last_message else conversation.date_created,
    )
    return {
        "sid": conversation.sid,
        "unique_name": conversation.unique_name,
        "friendly_name": conversation.friendly_name,
        "participants": sorted(participant_name(p) for p in participants),
        "last_message": message_json(last_message) if last_message else None,
        "unread_count": unread_count,
        "last_activity": iso(last_activity),
        "read_horizons": read_horizons(participants),
    }


def read_horizons(participants: list[ParticipantRecord]) -> dict[str, int]:
    """Chat participants' ``LastReadMessageIndex`` by identity: who has read up to where,
    for read receipts ("Seen by bob"). Those who have read nothing are left out."""
    return {
        p.identity: p.last_read_message_index
        for p in participants
        if p.identity and p.last_read_message_index is not None
    }
