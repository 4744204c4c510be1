"""The emulator's in-memory records: one dataclass per Conversations resource.

Records hold Python values (datetimes, None); `resources.py` turns them into Twilio's JSON and
`events.py` into webhook parameters. `seq` orders records by creation, for stable paging.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Binding:
    """How a non-chat participant is reached: their phone and the Twilio number proxying it."""

    address: str
    proxy_address: str
    type: str = "sms"


@dataclass
class WebhookConfig:
    """A service's webhook configuration (`/Services/{sid}/Configuration/Webhooks`)."""

    sid: str
    pre_webhook_url: str | None = None
    post_webhook_url: str | None = None
    filters: tuple[str, ...] = ()
    method: str = "POST"


@dataclass
class Service:
    sid: str
    friendly_name: str
    webhooks: WebhookConfig
    date_created: datetime = field(default_factory=utcnow)
    date_updated: datetime = field(default_factory=utcnow)


@dataclass
class Conversation:
    sid: str
    service_sid: str
    seq: int
    friendly_name: str | None
    unique_name: str | None
    attributes: str
    state: str
    date_created: datetime
    date_updated: datetime
    next_message_index: int = 0


@dataclass
class Participant:
    sid: str
    service_sid: str
    conversation_sid: str
    seq: int
    identity: str | None
    binding: Binding | None
    attributes: str
    date_created: datetime
    date_updated: datetime
    user_sid: str | None = None
    last_read_message_index: int | None = None
    last_read_timestamp: datetime | None = None


@dataclass
class Message:
    sid: str
    service_sid: str
    conversation_sid: str
    index: int
    author: str
    body: str | None
    attributes: str
    participant_sid: str | None
    date_created: datetime
    date_updated: datetime
    delivery: dict[str, object] | None = None


@dataclass
class User:
    sid: str
    service_sid: str
    seq: int
    identity: str
    friendly_name: str | None
    attributes: str
    date_created: datetime
    date_updated: datetime


@dataclass(frozen=True)
class OutboundSms:
    """A message the emulator 'sent' to a phone participant; inspect at `GET /_dev/outbox`."""

    to: str
    from_: str
    body: str | None
    conversation_sid: str
    message_sid: str
    participant_sid: str
    status: str
    date_created: datetime
