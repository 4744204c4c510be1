"""The emulator's in-memory records: one dataclass per Conversations resource.

Records hold Python values (datetimes, None); `resources.py` turns them into Twilio's JSON and
`events.py` into webhook parameters. `seq` orders records by creation, for stable paging.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


def utcnow() -> datetime:
    return datetime.now(UTC)


class Dated(Protocol):
    date_created: datetime
    date_updated: datetime


@dataclass(frozen=True)
class Dates:
    """`DateCreated` / `DateUpdated` as a caller sent them (Twilio lets an import set both)."""

    created: datetime | None = None
    updated: datetime | None = None

    def stamp(self, record: Dated) -> None:
        """Overwrite the record's clock-made dates with the ones the caller sent."""
        if self.created is not None:
            record.date_created = self.created
        if self.updated is not None:
            record.date_updated = self.updated


@dataclass(frozen=True)
class ConversationOptions:
    """What Twilio keeps on a conversation and the emulator only stores and echoes: its
    messaging service, the default email binding, and the state timers (never run here).
    A timer of zero clears it."""

    messaging_service_sid: str | None = None
    email_address: str | None = None
    email_name: str | None = None
    inactive_after: timedelta | None = None
    closed_after: timedelta | None = None

    def apply(self, conv: Conversation, now: datetime) -> None:
        if self.messaging_service_sid is not None:
            conv.messaging_service_sid = self.messaging_service_sid
        if self.email_address is not None:
            conv.email_address = self.email_address
        if self.email_name is not None:
            conv.email_name = self.email_name
        if self.inactive_after is not None:
            conv.date_inactive = now + self.inactive_after if self.inactive_after else None
        if self.closed_after is not None:
            conv.date_closed = now + self.closed_after if self.closed_after else None


@dataclass(frozen=True)
class Binding:
    """How a non-chat participant is reached: their phone and the Twilio number proxying it."""

    address: str
    proxy_address: str
    type: str = "sms"


@dataclass
class WebhookConfig:
    """Service-level (`/Services/{sid}/Configuration/Webhooks`) or account-level
    (`/Configuration/Webhooks`, the 'global' one) pre- and post-event webhook targets."""

    sid: str
    pre_webhook_url: str | None = None
    post_webhook_url: str | None = None
    filters: tuple[str, ...] = ()
    method: str = "POST"
    target: str = "webhook"

    @property
    def configured(self) -> bool:
        """Twilio: a service with its own webhooks overrides the global ones entirely."""
        return bool(self.pre_webhook_url or self.post_webhook_url)


@dataclass
class ServiceConfig:
    """`/Services/{sid}/Configuration`: default roles (stored, not enforced) and reachability."""

    default_conversation_creator_role_sid: str | None = None
    default_conversation_role_sid: str | None = None
    default_chat_service_role_sid: str | None = None
    reachability_enabled: bool = False


@dataclass
class Service:
    sid: str
    friendly_name: str
    webhooks: WebhookConfig
    date_created: datetime = field(default_factory=utcnow)
    date_updated: datetime = field(default_factory=utcnow)
    config: ServiceConfig = field(default_factory=ServiceConfig)
    seq: int = 0  # the default service is 0; created ones follow in creation order


@dataclass
class AccountConfig:
    """`/v1/Configuration`: the account's default service and timers (timers are stored and
    echoed, never run), plus the global webhook configuration."""

    default_chat_service_sid: str
    webhooks: WebhookConfig
    default_messaging_service_sid: str | None = None
    default_inactive_timer: str | None = None
    default_closed_timer: str | None = None


@dataclass
class ConversationWebhook:
    """A conversation-scoped webhook (`/Conversations/{sid}/Webhooks`). Only `webhook` targets
    are delivered; `studio` and `trigger` ones are stored and served back."""

    sid: str
    service_sid: str
    conversation_sid: str
    seq: int
    target: str
    url: str | None
    method: str
    filters: tuple[str, ...]
    triggers: tuple[str, ...]
    flow_sid: str | None
    date_created: datetime
    date_updated: datetime


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
    messaging_service_sid: str | None = None
    email_address: str | None = None
    email_name: str | None = None
    date_inactive: datetime | None = None
    date_closed: datetime | None = None


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
    role_sid: str | None = None
    projected_address: str | None = None  # a chat participant's number in a group MMS
    #: The User Conversation's `notification_level` ("default" or "muted"): it only changes
    #: Twilio's pushes to its SDK clients, which the emulator does not send.
    notification_level: str = "default"


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
    media: tuple[MediaRef, ...] = ()


@dataclass(frozen=True)
class MediaRef:
    """What a message (and its webhooks) says of one attached media file."""

    sid: str
    filename: str | None
    content_type: str
    size: int


@dataclass
class Media:
    """A file in the Media Content Service; its bytes are kept by `media_files.MediaFiles`.
    `message_sid`/`conversation_sid` stay None until a message takes it (once only)."""

    sid: str
    service_sid: str
    size: int
    content_type: str
    filename: str | None
    author: str | None
    date_created: datetime
    date_updated: datetime
    message_sid: str | None = None
    conversation_sid: str | None = None

    def ref(self) -> MediaRef:
        return MediaRef(self.sid, self.filename, self.content_type, self.size)


@dataclass
class DeliveryReceipt:
    """Whether one message reached one SMS participant (`sent`, `delivered`, `failed`,
    `undelivered`); `error_code` is 0 unless it failed."""

    sid: str
    service_sid: str
    conversation_sid: str
    message_sid: str
    participant_sid: str
    channel_message_sid: str
    seq: int
    status: str
    error_code: int
    date_created: datetime
    date_updated: datetime
    channel: str = "sms"  # the phone's binding type: `sms` or `whatsapp`


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
    role_sid: str | None = None


@dataclass
class OutboundSms:
    """A message the emulator 'sent' to a phone participant (an MMS when it has media);
    inspect at `GET /_dev/outbox`. `status` follows its delivery receipt."""

    to: str
    from_: str
    body: str | None
    conversation_sid: str
    message_sid: str
    participant_sid: str
    status: str
    date_created: datetime
    media: tuple[MediaRef, ...] = ()
    error_code: int = 0
