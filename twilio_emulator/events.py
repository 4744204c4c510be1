"""Webhook parameters, one builder per resource kind, for post-events and pre-events alike.

Names follow Twilio's "Conversations Webhooks" page: every event carries EventType, AccountSid,
ChatServiceSid, Source, RetryCount, WebhookSid and WebhookType (added by the dispatcher); each
resource adds its own fields. Parameters whose value is None are left out, as Twilio leaves out
what a resource does not have (an SMS participant has no Identity).

Pre-events (`onMessageAdd`, ...) describe the change about to happen: an Add has no SID, index
or dates yet, because the resource does not exist. `apply_changes` applies what a pre-event
webhook may modify (the page's "Modifiable Fields"). Dates are ISO 8601 UTC with
milliseconds, as Twilio sends them in webhooks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, TypeVar

from twilio_emulator.records import (
    Conversation,
    DeliveryReceipt,
    MediaRef,
    Message,
    Participant,
    User,
)

ADDED, UPDATED, REMOVED = "Added", "Updated", "Removed"
ADD, UPDATE, REMOVE = "Add", "Update", "Remove"  # the pre-event forms
PRE_CHANGES = (ADD, UPDATE, REMOVE)

#: The identity of the access-token (SDK) caller making the current change; set by the
#: emulator's auth for one request. Twilio sends it as `ClientIdentity` on SDK events.
CLIENT_IDENTITY: ContextVar[str | None] = ContextVar("emulator_client_identity", default=None)

#: What a pre-event webhook's JSON answer may change, per event type (record field names).
MODIFIABLE: Mapping[str, tuple[str, ...]] = {
    "onMessageAdd": ("body", "author", "attributes"),
    "onMessageUpdate": ("body", "author", "attributes"),
    "onConversationAdd": ("friendly_name",),
    "onConversationUpdate": ("friendly_name",),
}

R = TypeVar("R", Conversation, Message, Participant, User)


@dataclass(frozen=True)
class Event:
    """Something that happened (or, for a pre-event, is about to), ready to be delivered."""

    type: str
    service_sid: str
    source: str
    params: Mapping[str, str]
    pre: bool = False

    @property
    def conversation_sid(self) -> str | None:
        return self.params.get("ConversationSid")


def webhook_date(value: datetime) -> str:
    """Like `resources.rest_date`, with milliseconds, as Twilio's webhooks carry them."""
    return f"{value.year:04d}-{value:%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


def _when(
    change: str, record_created: datetime, record_updated: datetime, now: datetime
) -> dict[str, str]:
    if change == ADD:
        return {}
    dates = {"DateCreated": webhook_date(record_created)}
    if change != ADDED:
        dates["DateUpdated"] = webhook_date(record_updated)
    if change == REMOVED:
        dates["DateRemoved"] = webhook_date(now)
    return dates


def _own(change: str, sid: str) -> str | None:
    """A resource's own SID, which a pre-event Add cannot carry yet."""
    return None if change == ADD else sid


def _event(
    kind: str, change: str, service_sid: str, source: str, params: Mapping[str, object]
) -> Event:
    clean = {name: str(value) for name, value in params.items() if value is not None}
    client = CLIENT_IDENTITY.get()
    if source == "SDK" and client:
        clean["ClientIdentity"] = client
    return Event(
        type=f"on{kind}{change}",
        service_sid=service_sid,
        source=source,
        params=clean,
        pre=change in PRE_CHANGES,
    )


def conversation_event(change: str, conv: Conversation, source: str, now: datetime) -> Event:
    params = {
        "ConversationSid": _own(change, conv.sid),
        "FriendlyName": conv.friendly_name,
        "UniqueName": conv.unique_name,
        "Attributes": conv.attributes,
        "State": conv.state,
        **_when(change, conv.date_created, conv.date_updated, now),
    }
    return _event("Conversation", change, conv.service_sid, source, params)


def participant_event(change: str, part: Participant, source: str, now: datetime) -> Event:
    binding = part.binding
    params = {
        "ConversationSid": part.conversation_sid,
        "ParticipantSid": _own(change, part.sid),
        "Identity": part.identity,
        "MessagingBinding.Type": binding.type if binding else None,
        "MessagingBinding.Address": binding.address if binding else None,
        "MessagingBinding.ProxyAddress": binding.proxy_address if binding else None,
        "Attributes": part.attributes,
        "LastReadMessageIndex": part.last_read_message_index,
        **_when(change, part.date_created, part.date_updated, now),
    }
    return _event("Participant", change, part.service_sid, source, params)


def message_event(change: str, msg: Message, source: str, now: datetime) -> Event:
    params = {
        "ConversationSid": msg.conversation_sid,
        "MessageSid": _own(change, msg.sid),
        "Index": _own(change, str(msg.index)),
        "Author": msg.author,
        "Body": msg.body,  # left out when None: a media-only message's webhook has no Body
        "Attributes": msg.attributes,
        "Media": media_param(msg.media),
        "ParticipantSid": msg.participant_sid,
        **_when(change, msg.date_created, msg.date_updated, now),
    }
    return _event("Message", change, msg.service_sid, source, params)


def media_param(media: tuple[MediaRef, ...]) -> str | None:
    """Twilio's `Media` webhook parameter: a JSON list with PascalCase keys, or absent."""
    if not media:
        return None
    return json.dumps(
        [
            {"Sid": m.sid, "Filename": m.filename, "ContentType": m.content_type, "Size": m.size}
            for m in media
        ]
    )


def delivery_event(receipt: DeliveryReceipt) -> Event:
    """`onDeliveryUpdated`: a receipt's status changed (Twilio's "Conversations Webhooks");
    its `Source` is the phone's channel (`SMS`, `WHATSAPP`)."""
    params = {
        "ConversationSid": receipt.conversation_sid,
        "MessageSid": receipt.message_sid,
        "DeliveryReceiptSid": receipt.sid,
        "ChannelMessageSid": receipt.channel_message_sid,
        "ParticipantSid": receipt.participant_sid,
        "Status": receipt.status,
        "ErrorCode": receipt.error_code,
        "DateCreated": webhook_date(receipt.date_created),
        "DateUpdated": webhook_date(receipt.date_updated),
    }
    return _event("Delivery", UPDATED, receipt.service_sid, receipt.channel.upper(), params)


def user_event(change: str, user: User, source: str, now: datetime) -> Event:
    params = {
        "UserSid": _own(change, user.sid),
        "Identity": user.identity,
        "FriendlyName": user.friendly_name,
        "Attributes": user.attributes,
        "RoleSid": user.role_sid,
        **_when(change, user.date_created, user.date_updated, now),
    }
    return _event("User", change, user.service_sid, source, params)


def apply_changes(record: R, event_type: str, changes: Mapping[str, object]) -> R:
    """The record as a pre-event webhook's answer modified it; fields it may not touch, and
    keys that name no field, are ignored. Values are kept as strings, as Twilio stores them."""
    allowed = set(MODIFIABLE.get(event_type, ())) & {f.name for f in fields(record)}
    updates: dict[str, Any] = {
        name: str(changes[name]) for name in allowed if changes.get(name) is not None
    }
    return replace(record, **updates) if updates else record
