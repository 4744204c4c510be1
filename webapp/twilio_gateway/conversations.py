"""Conversation operations over Twilio's REST API, returning Parley's own small records.

Everything here goes through the official ``twilio`` library. Calls that change state send
``X-Twilio-Webhook-Enabled: true``, because REST-made changes fire no webhooks without it, and
the webhook is how every participant's browser hears about them. Each operation that calls
Twilio raises its failures as :class:`~.errors.GatewayError` (see :func:`~.errors.twilio_errors`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client
from twilio.rest.conversations.v1.service import ServiceContext

from webapp.twilio_gateway.errors import PARTICIPANT_EXISTS, UNIQUE_NAME_TAKEN, twilio_errors
from webapp.twilio_gateway.records import (
    ConversationRecord,
    DeliveryReceiptRecord,
    MessageRecord,
    ParticipantRecord,
    conversation_record,
    membership_conversation_record,
    message_record,
    participant_record,
    receipt_record,
)

WEBHOOK_ENABLED = "true"
_CONVERSATION_SID = re.compile(r"CH[0-9a-f]{32}")


def is_conversation_sid(value: str) -> bool:
    """Cheap check before a Twilio round trip: anything else cannot name a conversation."""
    return bool(_CONVERSATION_SID.fullmatch(value))


class ConversationsGateway:
    """Parley's view of one Conversations service. Raises :class:`GatewayError` on failure."""

    def __init__(self, client: Client, service_sid: str) -> None:
        self.client = client
        self.service_sid = service_sid

    @property
    def service(self) -> ServiceContext:
        return self.client.conversations.v1.services(self.service_sid)

    # Conversations -----------------------------------------------------------------------

    @twilio_errors()
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
            return conversation_record(self.service.conversations.create(**kwargs)), True
        except TwilioRestException as exc:
            if exc.code == UNIQUE_NAME_TAKEN and unique_name:
                return self.fetch_conversation(unique_name), False
            raise

    @twilio_errors()
    def fetch_conversation(self, sid_or_unique_name: str) -> ConversationRecord:
        return conversation_record(self.service.conversations(sid_or_unique_name).fetch())

    @twilio_errors()
    def rename_conversation(self, sid: str, friendly_name: str) -> ConversationRecord:
        updated = self.service.conversations(sid).update(
            friendly_name=friendly_name, x_twilio_webhook_enabled=WEBHOOK_ENABLED
        )
        return conversation_record(updated)

    @twilio_errors()
    def conversations_of(self, identity: str) -> list[ConversationRecord]:
        """Every conversation ``identity`` takes part in (Twilio's participant-conversations)."""
        rows = self.service.participant_conversations.list(identity=identity, page_size=100)
        return [membership_conversation_record(row) for row in rows]

    # Participants ------------------------------------------------------------------------

    @twilio_errors()
    def participants(self, conversation_sid: str) -> list[ParticipantRecord]:
        rows = self.service.conversations(conversation_sid).participants.list(page_size=100)
        return [participant_record(row) for row in rows]

    @twilio_errors()
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
                    raise

    def remove_participant(self, conversation_sid: str, participant_sid: str) -> None:
        """Remove a participant so that ``onParticipantRemoved`` fires (see :meth:`_delete`)."""
        self._delete(f"Conversations/{conversation_sid}/Participants/{participant_sid}")

    # SMS participants --------------------------------------------------------------------

    @twilio_errors()
    def add_sms_participant(
        self, conversation_sid: str, address: str, proxy_address: str, added_by: str | None
    ) -> ParticipantRecord:
        """Add a phone as an SMS participant: Twilio texts it from ``proxy_address``.

        Twilio allows one active conversation per (phone, Twilio number) pair: adding a phone
        that texts in another conversation fails with :data:`~.errors.BINDING_PAIR_IN_USE`.
        """
        created = self.service.conversations(conversation_sid).participants.create(
            messaging_binding_address=address,
            messaging_binding_proxy_address=proxy_address,
            attributes=json.dumps({"added_by": added_by} if added_by else {}),
            x_twilio_webhook_enabled=WEBHOOK_ENABLED,
        )
        return participant_record(created)

    @twilio_errors()
    def remove_participant_by(
        self, conversation_sid: str, participant: ParticipantRecord, removed_by: str
    ) -> None:
        """Remove someone else, noting who did in their attributes first, so that the
        ``onParticipantRemoved`` webhook (which carries them) can say "alice removed carol"."""
        attributes = {**participant.attributes, "removed_by": removed_by}
        # No webhook header: nobody needs to hear of this update, only of the removal.
        self.service.conversations(conversation_sid).participants(participant.sid).update(
            attributes=json.dumps(attributes)
        )
        self.remove_participant(conversation_sid, participant.sid)

    # Messages ----------------------------------------------------------------------------

    @twilio_errors()
    def send_message(
        self,
        conversation_sid: str,
        author: str,
        body: str,
        attributes: dict[str, Any],
        media_sids: Sequence[str] = (),
    ) -> MessageRecord:
        """Send a message; with ``media_sids`` (uploaded to MCS) ``body`` may be empty, and
        is then left out, as Twilio's media-only messages have none."""
        extra: dict[str, Any] = {"body": body} if body or not media_sids else {}
        if media_sids:
            # The library types MediaSid as one string; a list is sent as repeated fields.
            extra["media_sid"] = list(media_sids)
        created = self.service.conversations(conversation_sid).messages.create(
            author=author,
            attributes=json.dumps(attributes),
            x_twilio_webhook_enabled=WEBHOOK_ENABLED,
            **extra,
        )
        return message_record(created)

    @twilio_errors()
    def update_message(
        self, conversation_sid: str, message_sid: str, body: str, attributes: dict[str, Any]
    ) -> MessageRecord:
        updated = (
            self.service.conversations(conversation_sid)
            .messages(message_sid)
            .update(
                body=body,
                attributes=json.dumps(attributes),
                x_twilio_webhook_enabled=WEBHOOK_ENABLED,
            )
        )
        return message_record(updated)

    def delete_message(self, conversation_sid: str, message_sid: str) -> None:
        """Delete a message so that ``onMessageRemoved`` fires (see :meth:`_delete`)."""
        self._delete(f"Conversations/{conversation_sid}/Messages/{message_sid}")

    @twilio_errors()
    def recent_messages(self, conversation_sid: str, count: int = 50) -> list[MessageRecord]:
        """The newest ``count`` messages (one page, newest first)."""
        messages = self.service.conversations(conversation_sid).messages
        rows = messages.list(order="desc", limit=count, page_size=count)
        return [message_record(row) for row in rows]

    @twilio_errors()
    def fetch_message(self, conversation_sid: str, message_sid: str) -> MessageRecord:
        return message_record(
            self.service.conversations(conversation_sid).messages(message_sid).fetch()
        )

    @twilio_errors()
    def delivery_receipts(
        self, conversation_sid: str, message_sid: str
    ) -> list[DeliveryReceiptRecord]:
        """The message's receipts, one per phone it went to (Twilio keeps them after the
        ``onDeliveryUpdated`` webhooks, so a reloaded page can show each phone again)."""
        message = self.service.conversations(conversation_sid).messages(message_sid)
        return [receipt_record(row) for row in message.delivery_receipts.list(page_size=100)]

    def latest_message(self, conversation_sid: str) -> MessageRecord | None:
        page, _ = self.message_page(conversation_sid, limit=1)
        return page[-1] if page else None

    @twilio_errors()
    def message_page(
        self, conversation_sid: str, limit: int, before: int | None = None
    ) -> tuple[list[MessageRecord], bool]:
        """Up to ``limit`` messages with index below ``before``, oldest first, and has_more.

        Twilio pages newest-first with ``Order=desc``; Parley walks back from the newest.
        """
        found: list[MessageRecord] = []
        has_more = False
        messages = self.service.conversations(conversation_sid).messages
        for row in messages.stream(order="desc", page_size=min(100, limit + 1)):
            if before is not None and int(row.index) >= before:
                continue
            if len(found) == limit:
                has_more = True
                break
            found.append(message_record(row))
        found.reverse()
        return found, has_more

    @twilio_errors()
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
        for row in messages.stream(order="desc", page_size=min(100, limit + 1)):
            index = int(row.index)
            newest = index if newest is None else newest
            if before is not None and index >= before:
                continue
            if index <= after or len(found) == limit:
                break
            found.append(message_record(row))
        found.reverse()
        return found, newest

    @twilio_errors()
    def mark_read(
        self, conversation_sid: str, participant_sid: str, index: int, *, notify: bool = False
    ) -> None:
        """Set a participant's read horizon (unread counts and read receipts use it).

        ``notify`` fires ``onParticipantUpdated``, which shows the others a read receipt; the
        horizon a send moves needs none (the message itself tells them).
        """
        extra: dict[str, Any] = {"x_twilio_webhook_enabled": WEBHOOK_ENABLED} if notify else {}
        self.service.conversations(conversation_sid).participants(participant_sid).update(
            last_read_message_index=index, **extra
        )

    @twilio_errors()
    def advance_read_horizon(self, conversation_sid: str, participant_sid: str, index: int) -> int:
        """Move a participant's read horizon forward to ``index``, never back, telling the
        others (``onParticipantUpdated``); returns the horizon now in Twilio.

        Read first: a stale page or a late batch must not undo what another device read.
        """
        current = (
            self.service.conversations(conversation_sid)
            .participants(participant_sid)
            .fetch()
            .last_read_message_index
        )
        if current is not None and index <= current:
            return int(current)
        self.mark_read(conversation_sid, participant_sid, index, notify=True)
        return index

    @twilio_errors()
    def _delete(self, path: str) -> None:
        """DELETE ``/v1/Services/<service>/<path>`` with ``X-Twilio-Webhook-Enabled: true``.

        twilio 9.13.0's ``delete(x_twilio_webhook_enabled=...)`` builds that header and then
        drops it, so Twilio would fire no webhook and other participants would never hear of
        the change. The client's own ``request`` sends it (through the same HTTP client), and
        a refusal is raised as the library's own exception, so it is translated like any other.
        """
        url = f"{self.client.conversations.base_url}/v1/Services/{self.service_sid}/{path}"
        response = self.client.request(
            "DELETE", url, headers={"X-Twilio-Webhook-Enabled": WEBHOOK_ENABLED}
        )
        if response.status_code == 204:
            return
        try:
            error = json.loads(response.text or "{}")
        except ValueError:
            error = {}
        message = error.get("message") if isinstance(error, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        raise TwilioRestException(response.status_code, url, message, code, "DELETE")
