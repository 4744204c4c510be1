"""Parley's own small records of Twilio's resources, and the converters that make them.

Code outside the gateway sees these frozen records only, never the ``twilio`` library's
objects: they hold what Parley uses, with attributes parsed and times in UTC.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class ConversationRecord:
    sid: str
    unique_name: str | None
    friendly_name: str | None
    attributes: dict[str, Any]
    date_created: datetime
    date_updated: datetime


@dataclass(frozen=True)
class ParticipantRecord:
    sid: str
    identity: str | None
    address: str | None
    last_read_message_index: int | None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MediaRecord:
    """One file attached to a message (its bytes stay in Twilio's Media Content Service)."""

    sid: str
    filename: str | None
    content_type: str
    size: int


@dataclass(frozen=True)
class MessageRecord:
    sid: str
    index: int
    conversation_sid: str
    author: str | None
    body: str | None  # None for a message with media and no text
    attributes: dict[str, Any]
    date_created: datetime
    date_updated: datetime | None
    participant_sid: str | None
    media: tuple[MediaRecord, ...] = ()
    #: Twilio's summary of its deliveries to phones (``total``, then ``all``/``some``/``none``
    #: per status); ``None`` in a webhook, which does not carry it.
    delivery: dict[str, Any] | None = None


@dataclass(frozen=True)
class DeliveryReceiptRecord:
    """What one phone (SMS or WhatsApp participant) was told of one message."""

    sid: str
    participant_sid: str | None
    status: str
    error_code: int | None


def receipt_record(obj: Any) -> DeliveryReceiptRecord:
    code = obj.error_code
    return DeliveryReceiptRecord(
        sid=obj.sid,
        participant_sid=obj.participant_sid,
        status=str(obj.status or ""),
        error_code=int(code) if isinstance(code, int) and not isinstance(code, bool) else None,
    )


_DELIVERY_STATUSES = ("sent", "delivered", "read", "failed", "undelivered")


def delivery_summary(value: object) -> dict[str, Any] | None:
    """The parts of a message's ``delivery`` that are what Twilio sends; ``None`` otherwise."""
    if not isinstance(value, dict):
        return None
    total = value.get("total")
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        return None
    summary: dict[str, Any] = {"total": total}
    for status in _DELIVERY_STATUSES:
        if value.get(status) in ("all", "some", "none"):
            summary[status] = value[status]
    return summary


def attributes_from_json(raw: str | None) -> dict[str, Any]:
    """Twilio's ``Attributes`` (a JSON string anyone with the credentials may set): an object,
    or empty when it is not one, is not JSON, or is nested too deep to read."""
    if not raw or raw == "{}":  # what nearly every webhook carries: no parse needed
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


#: The keys of one media entry: sid, file name, content type, size (in that order).
_MEDIA_KEYS = ("sid", "filename", "content_type", "size")
_WEBHOOK_MEDIA_KEYS = ("Sid", "Filename", "ContentType", "Size")


def media_from_items(items: object, *, webhook: bool = False) -> tuple[MediaRecord, ...]:
    """A message's media: the REST resource's ``media`` list (snake_case keys), or, with
    ``webhook``, the parsed ``Media`` webhook parameter (PascalCase keys). Anyone with the
    credentials can shape these, so entries that are not what Twilio sends are left out."""
    keys = _WEBHOOK_MEDIA_KEYS if webhook else _MEDIA_KEYS
    found = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        sid, filename, content_type, size = (item.get(key) for key in keys)
        if not isinstance(sid, str) or not isinstance(content_type, str):
            continue
        found.append(
            MediaRecord(
                sid=sid,
                filename=filename if isinstance(filename, str) else None,
                content_type=content_type,
                size=size if isinstance(size, int) and not isinstance(size, bool) else 0,
            )
        )
    return tuple(found)


def media_from_json(raw: str | None) -> tuple[MediaRecord, ...]:
    """The ``Media`` webhook parameter (a JSON string), or nothing when it is absent or not
    the JSON Twilio sends."""
    if not raw:  # a message without files (nearly all): no parse needed
        return ()
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return ()
    return media_from_items(value, webhook=True)


def _utc(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def conversation_record(obj: Any) -> ConversationRecord:
    return ConversationRecord(
        sid=obj.sid if hasattr(obj, "sid") else obj.conversation_sid,
        unique_name=obj.unique_name,
        friendly_name=obj.friendly_name,
        attributes=attributes_from_json(obj.attributes),
        date_created=_utc(obj.date_created),
        date_updated=_utc(obj.date_updated),
    )


def membership_conversation_record(row: Any) -> ConversationRecord:
    """The conversation in a row of Twilio's participant-conversations list."""
    return ConversationRecord(
        sid=row.conversation_sid,
        unique_name=row.conversation_unique_name,
        friendly_name=row.conversation_friendly_name,
        attributes=attributes_from_json(row.conversation_attributes),
        date_created=_utc(row.conversation_date_created),
        date_updated=_utc(row.conversation_date_updated),
    )


def participant_record(obj: Any) -> ParticipantRecord:
    binding = obj.messaging_binding or {}
    return ParticipantRecord(
        sid=obj.sid,
        identity=obj.identity,
        address=binding.get("address"),
        last_read_message_index=obj.last_read_message_index,
        attributes=attributes_from_json(obj.attributes),
    )


def message_record(obj: Any) -> MessageRecord:
    return MessageRecord(
        sid=obj.sid,
        index=int(obj.index),
        conversation_sid=obj.conversation_sid,
        author=obj.author,
        body=obj.body,
        attributes=attributes_from_json(obj.attributes),
        date_created=_utc(obj.date_created),
        date_updated=obj.date_updated and _utc(obj.date_updated),
        participant_sid=obj.participant_sid,
        media=media_from_items(obj.media),
        delivery=delivery_summary(getattr(obj, "delivery", None)),
    )
