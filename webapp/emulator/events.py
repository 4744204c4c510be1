"""Post-event webhook parameters, one builder per resource kind.

Names follow Twilio's "Conversations Webhooks" page: every event carries EventType, AccountSid,
ChatServiceSid, ConversationSid, Source, RetryCount, WebhookSid and WebhookType (added by the
dispatcher); each resource adds its own fields. Parameters whose value is None are left out, as
Twilio leaves out what a resource does not have (an SMS participant has no Identity).
Dates are ISO 8601 UTC with milliseconds, as Twilio sends them in webhooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from webapp.emulator.records import Conversation, Message, Participant

ADDED, UPDATED, REMOVED = "Added", "Updated", "Removed"


@dataclass(frozen=True)
class Event:
    """Something that happened, ready to be delivered to the service's webhook."""

    type: str
    service_sid: str
    source: str
    params: Mapping[str, str]


def webhook_date(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _when(
    change: str, record_created: datetime, record_updated: datetime, now: datetime
) -> dict[str, str]:
    dates = {"DateCreated": webhook_date(record_created)}
    if change == UPDATED:
        dates["DateUpdated"] = webhook_date(record_updated)
    elif change == REMOVED:
        dates["DateRemoved"] = webhook_date(now)
    return dates


def _event(
    kind: str, change: str, service_sid: str, source: str, params: Mapping[str, object]
) -> Event:
    clean = {name: str(value) for name, value in params.items() if value is not None}
    return Event(type=f"on{kind}{change}", service_sid=service_sid, source=source, params=clean)


def conversation_event(change: str, conv: Conversation, source: str, now: datetime) -> Event:
    params = {
        "ConversationSid": conv.sid,
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
        "ParticipantSid": part.sid,
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
        "MessageSid": msg.sid,
        "Index": msg.index,
        "Author": msg.author,
        "Body": msg.body,
        "Attributes": msg.attributes,
        "ParticipantSid": msg.participant_sid,
        **_when(change, msg.date_created, msg.date_updated, now),
    }
    return _event("Message", change, msg.service_sid, source, params)
