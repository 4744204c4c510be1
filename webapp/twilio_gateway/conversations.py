"""Conversation operations over Twilio's REST API, returning Parley's own small records.

Everything here goes through the official ``twilio`` library. Calls that change state send
``X-Twilio-Webhook-Enabled: true``, because REST-made changes fire no webhooks without it, and
the webhook is how every participant's browser hears about them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client
from twilio.rest.conversations.v1.service import ServiceContext

from webapp.twilio_gateway.client import TwilioUnreachable

WEBHOOK_ENABLED = "true"
#: Twilio error codes Parley handles on purpose.
UNIQUE_NAME_TAKEN = 50353
PARTICIPANT_EXISTS = 50433
#: SMS participants: this (phone, Twilio number) pair is already in an active conversation;
#: the phone is the Twilio number itself; too many non-chat participants.
BINDING_PAIR_IN_USE = 50416
ADDRESS_EQUALS_PROXY = 50409
NON_CHAT_PARTICIPANTS_LIMIT = 50422
NOT_FOUND = 20404
#: ``GatewayError.status`` when Twilio (or the emulator) could not be reached at all: no
#: answer, so it may work later (and the commands do not blame the credentials for it).
UNREACHABLE = 503
_CONVERSATION_SID = re.compile(r"CH[0-9a-f]{32}")


def is_conversation_sid(value: str) -> bool:
    """Cheap check before a Twilio round trip: anything else cannot name a conversation."""
    return bool(_CONVERSATION_SID.fullmatch(value))


class GatewayError(Exception):
    """Twilio refused or could not be reached; carries what the API needs to answer clearly."""

    def __init__(self, message: str, status: int = 502, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    @property
    def not_found(self) -> bool:
        """Twilio does not know the resource (deleted, or never existed): asking again will
        not help, unlike a timeout, a 5xx or a 429."""
        return self.status == 404

    @classmethod
    def from_twilio(cls, exc: TwilioException) -> GatewayError:
        if isinstance(exc, TwilioUnreachable):
            return cls(str(exc), UNREACHABLE)
        if isinstance(exc, TwilioRestException):
            status = exc.status if 400 <= exc.status < 500 else 502
            return cls(str(exc.msg or "Twilio refused the request."), status, exc.code)
        # twilio-python raises a bare TwilioException("Unable to fetch page", response) when a
        # list page is not a 200: keep its status, so an unknown conversation stays a 404.
        response = exc.args[1] if len(exc.args) > 1 else None
        status = getattr(response, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            return cls("Twilio refused the request.", status)
        return cls("Twilio could not be reached.", 502)


def _attributes(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _utc(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


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
class MessageRecord:
    sid: str
    index: int
    conversation_sid: str
    author: str | None
    body: str | None
    attributes: dict[str, Any]
    date_created: datetime
    date_updated: datetime | None
    participant_sid: str | None


def _conversation(obj: Any) -> ConversationRecord:
    return ConversationRecord(
        sid=obj.sid if hasattr(obj, "sid") else obj.conversation_sid,
        unique_name=obj.unique_name,
        friendly_name=obj.friendly_name,
        attributes=_attributes(obj.attributes),
        date_created=_utc(obj.date_created),
        date_updated=_utc(obj.date_updated),
    )


def _participant(obj: Any) -> ParticipantRecord:
    binding = obj.messaging_binding or {}
    return ParticipantRecord(
        sid=obj.sid,
        identity=obj.identity,
        address=binding.get("address"),
        last_read_message_index=obj.last_read_message_index,
        attributes=_attributes(obj.attributes),
    )


def _message(obj: Any) -> MessageRecord:
    return MessageRecord(
        sid=obj.sid,
        index=int(obj.index),
        conversation_sid=obj.conversation_sid,
        author=obj.author,
        body=obj.body,
        attributes=_attributes(obj.attributes),
        date_created=_utc(obj.date_created),
        date_updated=obj.date_updated and _utc(obj.date_updated),
        participant_sid=obj.participant_sid,
    )


class ConversationsGateway:
    """Parley's view of one Conversations service. Raises :class:`GatewayError` on failure."""

    def __init__(self, client: Client, service_sid: str) -> None:
        self.client = client
        self.service_sid = service_sid

    @property
    def service(self) -> ServiceContext:
        return self.client.conversations.v1.services(self.service_sid)

    # Conversations -----------------------------------------------------------------------

    def create_conversation(
        self, unique_name: str | None = None, friendly_name: str | None = None
    ) -> tuple[ConversationRecord, bool]:
        """Create a conversation; with a taken ``unique_name``, return the existing one.

        Returns ``(conversation, created)``. Relying on Twilio's unique-name check makes two
        people starting the same chat at the same moment end up in one conversation.
        """
        kwargs: dict[str, Any] = {"x_twilio_webhook_enabled": WEBHOOK_ENABLED}
        if unique_name:
            kwargs["unique_name"] = unique_name
        if friendly_name:
            kwargs["friendly_name"] = friendly_name
        try:
            return _conversation(self.service.conversations.create(**kwargs)), True
        except TwilioRestException as exc:
            if exc.code == UNIQUE_NAME_TAKEN and unique_name:
                return self.fetch_conversation(unique_name), False
            raise GatewayError.from_twilio(exc) from exc
        except TwilioException as exc:
            raise GatewayError.from_twilio(exc) from exc

    def fetch_conversation(self, sid_or_unique_name: str) -> ConversationRecord:
        try:
            return _conversation(self.service.conversations(sid_or_unique_name).fetch())
        except TwilioException as exc:
            raise GatewayError.from_twilio(exc) from exc

    def rename_conversation(self, sid: str, friendly_name: str) -> ConversationRecord:
        try:
            updated = self.service.conversations(sid).update(
                friendly_name=friendly_name, x_twilio_webhook_enabled=WEBHOOK_ENABLED
            )
        except TwilioException as exc:
            raise GatewayError.from_twilio(exc) from exc
        return _conversation(updated)

    def conversations_of(self, identity: str) -> list[ConversationRecord]:
        """Every conversation ``identity`` takes part in (Twilio's participant-conversations)."""
        try:
            rows = self.service.participant_conversations.list(identity=identity, page_size=100)
        except TwilioException as exc:
            raise GatewayError.from_twilio(exc) from exc
        return [
            ConversationRecord(
                sid=row.conversation_sid,
                unique_name=row.conversation_unique_name,
                friendly_name=row.conversation_friendly_name,
                attributes=_attributes(row.conversation_attributes),
                date_created=_utc(row.conversation_date_created),
                date_updated=_utc(row.conversation_date_updated),
            )
            for row in rows
        ]

    # Participants ------------------------------------------------------------------------

    def participants(self, conversation_sid: str) -> list[ParticipantRecord]:
        try:
            rows = self.service.conversations(conversation_sid).participants.list(page_size=100)
        except TwilioException as exc:
            raise GatewayError.from_twilio(exc) from exc
        return [_participant(row) for row in rows]

    def add_chat_participants(
        self, conversation_sid: str, identities: Iterable[str], added_by: str | None = None
    ) -> None:
        """Add chat users; one already there is not an error (two tabs may race).

        ``added_by`` is kept in the participant's attributes, for "alice added carol".
        """
        participants = self.service.conversations(conversation_sid).participants
        attributes = json.dumps({"added_by": added_by} if added_by else {})
        for identity in identities:
            try:
                participants.create(
                    identity=identity,
                    attributes=attributes,
                    x_twilio_webhook_enabled=WEBHOOK_ENABLED,
                )
            except TwilioRestException as exc:
                if exc.code != PARTICIPANT_EXISTS:
                    raise GatewayError.from_twilio(exc) from exc
            except TwilioException as exc:
                raise GatewayError.from_twilio(exc) from exc

    def remove_participant(self, conversation_sid: str, participant_sid: str) -> None:
        """Remove a participant so that ``onParticipantRemoved`` fires (see :meth:`_delete`)."""
        self._delete(f"Conversations/{conversation_sid}/Participants/{participant_sid}")

    # SMS participants --------------------------------------------------------------------

    def add_sms_participant(
        self, conversation_sid: str, address: str, proxy_address: str, added_by: str | None
    ) -> ParticipantRecord:
        """Add a phone as an SMS participant: Twilio texts it from ``proxy_address``.

        Twilio allows one active conversation per (phone, Twilio number) pair: adding a phone
        that texts in another conversation fails with :data:`BINDING_PAIR_IN_USE`.
        """
        participants = self.service.conversations(conversation_sid).participants
        try:
            created = participants.create(
                messaging_binding_address=address,
                messaging_binding_proxy_address=proxy_address,
                attributes=json.dumps({"added_by": added_by} if added_by else {}),
                x_twilio_webhook_enabled=WEBHOOK_ENABLED,
            )
        except TwilioException as exc:
            raise GatewayError.from_twilio(exc) from exc
        return _participant(created)

    def remove_participant_by(
        self, conversation_sid: str, participant: ParticipantRecord, removed_by: str
    ) -> None:
        """Remove someone else, noting who did in their attributes first, so that the
        ``onParticipantRemoved`` webhook (which carries them) can say "alice removed carol"."""
        attributes = {**participant.attributes, "removed_by": removed_by}
        try:
            # No webhook header: nobody needs to hear of this update, only of the removal.
            self.service.conversations(conversation_sid).participants(participant.sid).update(
                attributes=json.dumps(attributes)
            )
        except TwilioException as exc:
            raise GatewayError.from_twilio(exc) from exc
        self.remove_participant(conversation_sid, participant.sid)

    # Messages ----------------------------------------------------------------------------

    def send_message(
        self, conversation_sid: str, author: str, body: str, attributes: dict[str, Any]
    ) -> MessageRecord:
        try:
            created = self.service.conversations(conversation_sid).messages.create(
                author=author,
                body=body,
                attributes=json.dumps(attributes),
                x_twilio_webhook_enabled=WEBHOOK_ENABLED,
            )
        except TwilioException as exc:
            raise GatewayError.from_twilio(exc) from exc
        return _message(created)

    def update_message(
        self, conversation_sid: str, message_sid: str, body: str, attributes: dict[str, Any]
    ) -> MessageRecord:
        try:
            updated = (
                self.service.conversations(conversation_sid)
                .messages(message_sid)
                .update(
                    body=body,
                    attributes=json.dumps(attributes),
                    x_twilio_webhook_enabled=WEBHOOK_ENABLED,
                )
            )
        except TwilioException as exc:
            raise GatewayError.from_twilio(exc) from exc
        return _message(updated)

    def delete_message(self, conversation_sid: str, message_sid: str) -> None:
        """Delete a message so that ``onMessageRemoved`` fires (see :meth:`_delete`)."""
        self._delete(f"Conversations/{conversation_sid}/Messages/{message_sid}")

    def recent_messages(self, conversation_sid: str, count: int = 50) -> list[MessageRecord]:
        """The newest ``count`` messages (one page, newest first)."""
        messages = self.service.conversations(conversation_sid).messages
        try:
            rows = messages.list(order="desc", limit=count, page_size=count)
        except TwilioException as exc:
            raise GatewayError.from_twilio(exc) from exc
        return [_message(row) for row in rows]

    def fetch_message(self, conversation_sid: str, message_sid: str) -> MessageRecord:
        try:
            return _message(
                self.service.conversations(conversation_sid).messages(message_sid).fetch()
            )
        except TwilioException as exc:
            raise GatewayError.from_twilio(exc) from exc

    def latest_message(self, conversation_sid: str) -> MessageRecord | None:
        page, _ = self.message_page(conversation_sid, limit=1)
        return page[-1] if page else None

    def message_page(
        self, conversation_sid: str, limit: int, before: int | None = None
    ) -> tuple[list[MessageRecord], bool]:
        """Up to ``limit`` messages with index below ``before``, oldest first, and has_more.

        Twilio pages newest-first with ``Order=desc``; Parley walks back from the newest.
        """
        found: list[MessageRecord] = []
        has_more = False
        messages = self.service.conversations(conversation_sid).messages
        try:
            for row in messages.stream(order="desc", page_size=min(100, limit + 1)):
                if before is not None and int(row.index) >= before:
                    continue
                if len(found) == limit:
                    has_more = True
                    break
                found.append(_message(row))
        except TwilioException as exc:
            raise GatewayError.from_twilio(exc) from exc
        found.reverse()
        return found, has_more

    def messages_between(
        self, conversation_sid: str, after: int, before: int | None, limit: int
    ) -> tuple[list[MessageRecord], int | None]:
        """The messages with an index above ``after`` and below ``before`` (``None``: up to the
        newest), oldest first (of more than ``limit``, the newest ``limit``), and the index of
        the newest message in the conversation (``None``: it has none). Walks back from the
        newest and stops at ``after``, so a short gap costs one small page."""
        found: list[MessageRecord] = []
        newest: int | None = None
        messages = self.service.conversations(conversation_sid).messages
        try:
            for row in messages.stream(order="desc", page_size=min(100, limit + 1)):
                index = int(row.index)
                newest = index if newest is None else newest
                if before is not None and index >= before:
                    continue
                if index <= after or len(found) == limit:
                    break
                found.append(_message(row))
        except TwilioException as exc:
            raise GatewayError.from_twilio(exc) from exc
        found.reverse()
        return found, newest

    def mark_read(
        self, conversation_sid: str, participant_sid: str, index: int, *, notify: bool = False
    ) -> None:
        """Set a participant's read horizon (unread counts and read receipts use it).

        ``notify`` fires ``onParticipantUpdated``, which shows the others a read receipt; the
        horizon a send moves needs none (the message itself tells them).
        """
        extra: dict[str, Any] = {"x_twilio_webhook_enabled": WEBHOOK_ENABLED} if notify else {}
        try:
            self.service.conversations(conversation_sid).participants(participant_sid).update(
                last_read_message_index=index, **extra
            )
        except TwilioException as exc:
            raise GatewayError.from_twilio(exc) from exc

    def advance_read_horizon(self, conversation_sid: str, participant_sid: str, index: int) -> int:
        """Move a participant's read horizon forward to ``index``, never back, telling the
        others (``onParticipantUpdated``); returns the horizon now in Twilio.

        Read first: a stale page or a late batch must not undo what another device read.
        """
        try:
            current = (
                self.service.conversations(conversation_sid)
                .participants(participant_sid)
                .fetch()
                .last_read_message_index
            )
        except TwilioException as exc:
            raise GatewayError.from_twilio(exc) from exc
        if current is not None and index <= current:
            return int(current)
        self.mark_read(conversation_sid, participant_sid, index, notify=True)
        return index

    def _delete(self, path: str) -> None:
        """DELETE ``/v1/Services/<service>/<path>`` with ``X-Twilio-Webhook-Enabled: true``.

        twilio 9.13.0's ``delete(x_twilio_webhook_enabled=...)`` builds that header and then
        drops it, so Twilio would fire no webhook and other participants would never hear of
        the change. The client's own ``request`` sends it (through the same HTTP client).
        """
        url = f"{self.client.conversations.base_url}/v1/Services/{self.service_sid}/{path}"
        try:
            response = self.client.request(
                "DELETE", url, headers={"X-Twilio-Webhook-Enabled": WEBHOOK_ENABLED}
            )
        except TwilioException as exc:
            raise GatewayError.from_twilio(exc) from exc
        if response.status_code == 204:
            return
        try:
            error = json.loads(response.text or "{}")
        except ValueError:
            error = {}
        status = response.status_code if 400 <= response.status_code < 500 else 502
        message = error.get("message") if isinstance(error, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        raise GatewayError(str(message or "Twilio refused the request."), status, code)
