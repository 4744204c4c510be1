"""Records to Twilio's JSON, field for field as the OpenAPI spec's component schemas list them
(configuration and webhook resources are in `config_resources`).

The same record serialises differently by path form: under `/v1/Services/{sid}/...` the URLs
carry the service and participants/messages include `chat_service_sid`; under the default
`/v1/...` they do not (the spec's `conversations.v1.conversation.conversation_participant` has
no such field). URLs always name Twilio's real host, as Twilio's own responses do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from twilio_emulator.records import Conversation, DeliveryReceipt, Message, Participant, User

HOST = "https://conversations.twilio.com"
Json = dict[str, object]


@dataclass(frozen=True)
class Scope:
    """Which account and service a request addressed, and through which path form."""

    account_sid: str
    service_sid: str
    service_path: bool

    @property
    def base(self) -> str:
        if self.service_path:
            return f"{HOST}/v1/Services/{self.service_sid}"
        return f"{HOST}/v1"

    def conversation_url(self, sid: str) -> str:
        return f"{self.base}/Conversations/{sid}"

    def user_url(self, sid: str) -> str:
        return f"{self.base}/Users/{sid}"


def rest_date(value: datetime | None) -> str | None:
    """ISO 8601 in UTC; the year always has four digits (`strftime("%Y")` drops the zeros of
    a year below 1000, and a `DateCreated` may be any date)."""
    return f"{value.year:04d}-{value:%m-%dT%H:%M:%S}Z" if value else None


def conversation(scope: Scope, record: Conversation) -> Json:
    url = scope.conversation_url(record.sid)
    return {
        "account_sid": scope.account_sid,
        "chat_service_sid": record.service_sid,
        "messaging_service_sid": record.messaging_service_sid,
        "sid": record.sid,
        "friendly_name": record.friendly_name,
        "unique_name": record.unique_name,
        "attributes": record.attributes,
        "state": record.state,
        "date_created": rest_date(record.date_created),
        "date_updated": rest_date(record.date_updated),
        "timers": _timers(record),
        "url": url,
        "links": {
            "participants": f"{url}/Participants",
            "messages": f"{url}/Messages",
            "webhooks": f"{url}/Webhooks",
            "export": f"{url}/Export",
        },
        "bindings": _conversation_bindings(record),
    }


def _timers(record: Conversation) -> Json:
    timers = {"date_inactive": record.date_inactive, "date_closed": record.date_closed}
    return {name: rest_date(when) for name, when in timers.items() if when is not None}


def _conversation_bindings(record: Conversation) -> Json | None:
    """The default email binding, in the shape of Twilio's own example in its spec."""
    if record.email_address is None and record.email_name is None:
        return None
    return {"email": {"projected_address": record.email_address, "name": record.email_name}}


def _binding_json(record: Participant) -> Json | None:
    if record.binding is None:
        if record.projected_address is None:
            return None
        return {"type": "sms", "projected_address": record.projected_address}
    return {
        "type": record.binding.type,
        "address": record.binding.address,
        "proxy_address": record.binding.proxy_address,
    }


def with_service(scope: Scope, body: Json) -> Json:
    """Insert `chat_service_sid` after `account_sid` when the service path form was used."""
    if not scope.service_path:
        return body
    account, rest = body["account_sid"], {k: v for k, v in body.items() if k != "account_sid"}
    return {"account_sid": account, "chat_service_sid": scope.service_sid, **rest}


def participant(scope: Scope, record: Participant) -> Json:
    return with_service(
        scope,
        {
            "account_sid": scope.account_sid,
            "conversation_sid": record.conversation_sid,
            "sid": record.sid,
            "identity": record.identity,
            "attributes": record.attributes,
            "messaging_binding": _binding_json(record),
            "role_sid": record.role_sid,
            "date_created": rest_date(record.date_created),
            "date_updated": rest_date(record.date_updated),
            "url": f"{scope.conversation_url(record.conversation_sid)}/Participants/{record.sid}",
            "last_read_message_index": record.last_read_message_index,
            "last_read_timestamp": rest_date(record.last_read_timestamp),
        },
    )


def message(scope: Scope, record: Message) -> Json:
    url = f"{scope.conversation_url(record.conversation_sid)}/Messages/{record.sid}"
    return with_service(
        scope,
        {
            "account_sid": scope.account_sid,
            "conversation_sid": record.conversation_sid,
            "sid": record.sid,
            "index": record.index,
            "author": record.author,
            "body": record.body,
            "media": _media(record),
            "attributes": record.attributes,
            "participant_sid": record.participant_sid,
            "date_created": rest_date(record.date_created),
            "date_updated": rest_date(record.date_updated),
            "url": url,
            "delivery": record.delivery,
            "links": {
                "delivery_receipts": f"{url}/Receipts",
                "channel_metadata": f"{url}/ChannelMetadata",
            },
            "content_sid": None,
        },
    )


def _media(record: Message) -> list[Json] | None:
    """The message's media as Twilio lists it (null when it has none)."""
    if not record.media:
        return None
    return [
        {
            "sid": m.sid,
            "size": m.size,
            "content_type": m.content_type,
            "filename": m.filename,
            "category": "media",
        }
        for m in record.media
    ]


def receipt(scope: Scope, record: DeliveryReceipt) -> Json:
    conv_url = scope.conversation_url(record.conversation_sid)
    return with_service(
        scope,
        {
            "account_sid": scope.account_sid,
            "conversation_sid": record.conversation_sid,
            "sid": record.sid,
            "message_sid": record.message_sid,
            "channel_message_sid": record.channel_message_sid,
            "participant_sid": record.participant_sid,
            "status": record.status,
            "error_code": record.error_code,
            "date_created": rest_date(record.date_created),
            "date_updated": rest_date(record.date_updated),
            "url": f"{conv_url}/Messages/{record.message_sid}/Receipts/{record.sid}",
        },
    )


def user(scope: Scope, record: User) -> Json:
    url = scope.user_url(record.sid)
    return {
        "sid": record.sid,
        "account_sid": scope.account_sid,
        "chat_service_sid": record.service_sid,
        "role_sid": record.role_sid,
        "identity": record.identity,
        "friendly_name": record.friendly_name,
        "attributes": record.attributes,
        "is_online": None,
        "is_notifiable": None,
        "date_created": rest_date(record.date_created),
        "date_updated": rest_date(record.date_updated),
        "url": url,
        "links": {"user_conversations": f"{url}/Conversations"},
    }


def _membership_links(scope: Scope, part: Participant) -> Json:
    conv_url = scope.conversation_url(part.conversation_sid)
    return {"participant": f"{conv_url}/Participants/{part.sid}", "conversation": conv_url}


def participant_conversation(scope: Scope, part: Participant, conv: Conversation) -> Json:
    return {
        "account_sid": scope.account_sid,
        "chat_service_sid": conv.service_sid,
        "participant_sid": part.sid,
        "participant_user_sid": part.user_sid,
        "participant_identity": part.identity,
        "participant_messaging_binding": _binding_json(part),
        "conversation_sid": conv.sid,
        "conversation_unique_name": conv.unique_name,
        "conversation_friendly_name": conv.friendly_name,
        "conversation_attributes": conv.attributes,
        "conversation_date_created": rest_date(conv.date_created),
        "conversation_date_updated": rest_date(conv.date_updated),
        "conversation_created_by": None,
        "conversation_state": conv.state,
        "conversation_timers": {},
        "links": _membership_links(scope, part),
    }


def user_conversation(
    scope: Scope, user_record: User, part: Participant, conv: Conversation, unread: int | None
) -> Json:
    return {
        "account_sid": scope.account_sid,
        "chat_service_sid": conv.service_sid,
        "conversation_sid": conv.sid,
        "unread_messages_count": unread,
        "last_read_message_index": part.last_read_message_index,
        "participant_sid": part.sid,
        "user_sid": user_record.sid,
        "friendly_name": conv.friendly_name,
        "conversation_state": conv.state,
        "timers": {},
        "attributes": conv.attributes,
        "date_created": rest_date(conv.date_created),
        "date_updated": rest_date(conv.date_updated),
        "created_by": None,
        "notification_level": part.notification_level,
        "unique_name": conv.unique_name,
        "url": f"{scope.user_url(user_record.sid)}/Conversations/{conv.sid}",
        "links": _membership_links(scope, part),
    }
