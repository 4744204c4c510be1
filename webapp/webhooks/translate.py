"""Turns a Twilio webhook's form parameters into Parley events and their recipients."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from webapp.events import types
from webapp.events.types import Event
from webapp.people.participants import identities
from webapp.presenters import conversation_json, delivery_json, message_json, participant_json
from webapp.services import Services
from webapp.twilio_gateway import GatewayError, MessageRecord, ParticipantRecord
from webapp.twilio_gateway.records import attributes_from_json, media_from_json

Params = Mapping[str, str]


@dataclass(frozen=True)
class Outgoing:
    """One event and who gets it."""

    event: Event
    recipients: list[str]


def _date(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


#: The shapes of the SIDs a webhook names besides its conversation's, by prefix (compiled once:
#: a message's webhook checks two).
_SID_SHAPES = {prefix: re.compile(prefix + "[0-9a-f]{32}") for prefix in ("IM", "MB")}


def _sid(params: Params, name: str, prefix: str) -> str | None:
    """``params[name]`` if it is a SID of that kind (``prefix`` + 32 hex), None if absent or
    blank; anything else is malformed (``ValueError``: a 400, before any lookup)."""
    value = params.get(name) or None
    if value is not None and not _SID_SHAPES[prefix].fullmatch(value):
        raise ValueError(f"{name} is not a SID")
    return value


def message_from_params(params: Params) -> MessageRecord:
    sid = _sid(params, "MessageSid", "IM")
    if sid is None:
        raise KeyError("MessageSid")
    return MessageRecord(
        sid=sid,
        index=int(params.get("Index", "0")),
        conversation_sid=params["ConversationSid"],
        author=params.get("Author"),
        body=params.get("Body"),  # absent from a media-only message's webhook
        media=media_from_json(params.get("Media")),
        attributes=attributes_from_json(params.get("Attributes")),
        date_created=_date(params.get("DateCreated")),
        date_updated=_date(params["DateUpdated"]) if params.get("DateUpdated") else None,
        participant_sid=_sid(params, "ParticipantSid", "MB"),
    )


def participant_from_params(params: Params) -> ParticipantRecord:
    return ParticipantRecord(
        sid=_sid(params, "ParticipantSid", "MB") or "",
        identity=params.get("Identity") or None,
        address=params.get("MessagingBinding.Address") or None,
        last_read_message_index=None,
        attributes=attributes_from_json(params.get("Attributes")),
    )


def message_outgoing(services: Services, kind: str, message: MessageRecord) -> Outgoing:
    """A message event for everyone in its conversation (from a webhook, or from Twilio's
    history when its webhook never arrived: the same event either way)."""
    members = identities(services.membership.participants(message.conversation_sid))
    data = {"conversation_sid": message.conversation_sid, "message": message_json(message)}
    return Outgoing(Event(kind, data), members)


def _message_event(kind: str) -> Callable[[Services, Params], list[Outgoing]]:
    def translate(services: Services, params: Params) -> list[Outgoing]:
        return [message_outgoing(services, kind, message_from_params(params))]

    return translate


def _participant_added(services: Services, params: Params) -> list[Outgoing]:
    conversation_sid = params["ConversationSid"]
    added = participant_from_params(params)
    services.membership.forget(conversation_sid)
    participants = services.membership.participants(conversation_sid)
    out = [
        Outgoing(
            Event(
                types.PARTICIPANT_ADDED,
                {"conversation_sid": conversation_sid, "participant": participant_json(added)},
            ),
            identities(participants),
        )
    ]
    if added.identity:
        conversation = services.gateway.fetch_conversation(conversation_sid)
        last = services.gateway.latest_message(conversation_sid)
        unread = 0 if last is None else last.index + 1
        data = {"conversation": conversation_json(conversation, participants, last, unread)}
        out.append(Outgoing(Event(types.CONVERSATION_ADDED, data), [added.identity]))
    return out


def _members_or_last_known(services: Services, conversation_sid: str) -> list[str]:
    """The members, or, once Twilio no longer knows the conversation (it was deleted), those
    Parley last knew to be in it: the cached list may be long gone by the time a removal
    arrives, and whoever has the conversation open must still hear of it.
    Any other failure is raised: the webhook answers 503 and Twilio retries."""
    try:
        return identities(services.membership.participants(conversation_sid))
    except GatewayError as exc:
        if not exc.not_found:
            raise
        return services.membership.last_known_members(conversation_sid)


def _participant_removed(services: Services, params: Params) -> list[Outgoing]:
    conversation_sid = params["ConversationSid"]
    removed = participant_from_params(params)
    services.membership.forget(conversation_sid)
    if removed.identity:  # removed outside Parley too (the host's backend, Twilio's console)
        services.mutes.forget_member(removed.identity, conversation_sid)
    recipients = _members_or_last_known(services, conversation_sid)
    if removed.identity and removed.identity not in recipients:
        recipients.append(removed.identity)
    data = {"conversation_sid": conversation_sid, "participant": participant_json(removed)}
    return [Outgoing(Event(types.PARTICIPANT_REMOVED, data), recipients)]


#: Above this many members, a read receipt goes only to the reader's own pages (their unread
#: counts); the others see who has read what when they next load the conversation. Every
#: member reading every message would otherwise cost members² deliveries.
LIVE_RECEIPTS_MAX_MEMBERS = 100


def _participant_updated(services: Services, params: Params) -> list[Outgoing]:
    """A moved read horizon becomes ``participant_read`` for everyone in the conversation.

    The reader's own other pages get it too, so their unread counts agree. Other participant
    updates (attributes, roles) are not shown anywhere, so they publish nothing.
    """
    raw_index = params.get("LastReadMessageIndex") or ""
    identity = params.get("Identity") or None
    if not identity or not raw_index.lstrip("-").isdigit():
        return []
    conversation_sid = params["ConversationSid"]
    members = identities(services.membership.participants(conversation_sid))
    if len(members) > LIVE_RECEIPTS_MAX_MEMBERS:
        members = [identity]
    data = {
        "conversation_sid": conversation_sid,
        "identity": identity,
        "last_read_message_index": int(raw_index),
    }
    return [Outgoing(Event(types.PARTICIPANT_READ, data), members)]


def _conversation_updated(services: Services, params: Params) -> list[Outgoing]:
    conversation_sid = params["ConversationSid"]
    members = identities(services.membership.participants(conversation_sid))
    data = {
        "conversation_sid": conversation_sid,
        "friendly_name": params.get("FriendlyName") or None,
        "unique_name": params.get("UniqueName") or None,
    }
    return [Outgoing(Event(types.CONVERSATION_UPDATED, data), members)]


def _conversation_removed(services: Services, params: Params) -> list[Outgoing]:
    conversation_sid = params["ConversationSid"]
    members = _members_or_last_known(services, conversation_sid)
    services.membership.forget(conversation_sid)
    data = {"conversation_sid": conversation_sid}
    return [Outgoing(Event(types.CONVERSATION_REMOVED, data), members)]


#: The statuses of Twilio's delivery receipts (``queued`` is never shown).
DELIVERY_STATUSES = frozenset({"sent", "delivered", "read", "failed", "undelivered"})


def _delivery_updated(services: Services, params: Params) -> list[Outgoing]:
    """A phone's (or WhatsApp's) receipt for a message, for everyone in the conversation:
    the page shows each phone's status under the message."""
    status = params.get("Status", "")
    message_sid = _sid(params, "MessageSid", "IM")
    participant_sid = _sid(params, "ParticipantSid", "MB")
    if status not in DELIVERY_STATUSES or message_sid is None:
        return []
    code = params.get("ErrorCode", "")
    conversation_sid = params["ConversationSid"]
    participants = services.membership.participants(conversation_sid)
    participant = next((p for p in participants if p.sid == participant_sid), None)
    data = delivery_json(
        conversation_sid,
        message_sid,
        participant,
        status,
        int(code) if code.isdigit() and len(code) < 7 else None,
    )
    return [Outgoing(Event(types.DELIVERY_UPDATED, data), identities(participants))]


#: Twilio's post-event types Parley acts on; others are acknowledged and ignored.
TRANSLATORS: dict[str, Callable[[Services, Params], list[Outgoing]]] = {
    "onMessageAdded": _message_event(types.MESSAGE_ADDED),
    "onMessageUpdated": _message_event(types.MESSAGE_UPDATED),
    "onMessageRemoved": _message_event(types.MESSAGE_REMOVED),
    "onParticipantAdded": _participant_added,
    "onParticipantUpdated": _participant_updated,
    "onParticipantRemoved": _participant_removed,
    "onConversationUpdated": _conversation_updated,
    "onConversationRemoved": _conversation_removed,
    "onDeliveryUpdated": _delivery_updated,
}

#: The filters Parley asks Twilio for (``twilio setup`` and the emulator's defaults).
SUBSCRIBED_EVENTS = tuple(TRANSLATORS)
