"""Conversations and messages, over the Twilio gateway; membership checked on every call."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Response, jsonify
from flask_login import current_user, login_required

from webapp.api import bp
from webapp.api.typing_throttle import typing_ended
from webapp.api.uploads import forget_uploads, own_uploads
from webapp.api.validation import int_arg, json_body, known_user, string_field
from webapp.errors import ApiError
from webapp.models import USERNAME_PATTERN
from webapp.names import names_for
from webapp.people.mutes import Mute
from webapp.people.participants import identities
from webapp.presenters import conversation_json, message_json
from webapp.services import Services, get_services
from webapp.twilio_gateway import (
    ConversationRecord,
    GatewayError,
    MessageRecord,
    ParticipantRecord,
    is_conversation_sid,
)
from webapp.twilio_gateway.users import set_notification_level

log = logging.getLogger(__name__)

MAX_GROUP_SIZE = 50
MAX_FRIENDLY_NAME = 256
MAX_CLIENT_ID = 64
PAGE_LIMIT = 100
#: How many of the newest messages a send looks through for an earlier try with its client_id.
RETRY_WINDOW = 50


def _dm_unique_name(a: str, b: str) -> str:
    """The same pair of users always maps to the same conversation, whoever starts it, and
    no other pair does: usernames have no ``:``, so ``dm:alice:bob`` is unambiguous; any other
    identity may hold a ``:`` (``dm:a:b:c`` would be both ``a:b``+``c`` and ``a``+``b:c``),
    so those pairs are named by a digest of both identities, which fits Twilio's 256
    characters whatever their length."""
    first, second = sorted((a, b))
    if USERNAME_PATTERN.fullmatch(first) and USERNAME_PATTERN.fullmatch(second):
        return f"dm:{first}:{second}"
    pair = json.dumps([first, second], ensure_ascii=False).encode()
    return "dmh:" + hashlib.sha256(pair).hexdigest()  # URL-safe: Twilio reads it in paths


def require_member(services: Services, sid: str) -> list[ParticipantRecord]:
    """The conversation's participants; 404 (never 403) for anyone who is not one of them."""
    if not is_conversation_sid(sid):
        raise ApiError(404, "not_found", "Conversation not found.")
    participants = services.membership.participants(sid)
    if current_user.identity not in identities(participants):
        raise ApiError(404, "not_found", "Conversation not found.")
    return participants


_MESSAGE_SID = re.compile(r"IM[0-9a-f]{32}")


@contextmanager
def message_lookup(message_sid: str) -> Iterator[None]:
    """Around a Twilio lookup of one message, for a member (``require_member`` first): a
    malformed sid, or one Twilio does not know, is a 404, as a conversation would be."""
    if not _MESSAGE_SID.fullmatch(message_sid):
        raise ApiError(404, "not_found", "Message not found.")
    try:
        yield
    except GatewayError as exc:
        if exc.not_found:  # the conversation exists (its member asked): the message does not
            raise ApiError(404, "not_found", "Message not found.") from exc
        raise


def own_participant(participants: list[ParticipantRecord]) -> ParticipantRecord:
    """The current user's participant record (callers have checked membership)."""
    return next(p for p in participants if p.identity == current_user.identity)


def people_in(*views: dict[str, Any]) -> list[str]:
    """Everyone these conversation views mention: the ``names`` map the page needs for them."""
    found: list[str] = []
    for view in views:
        found.extend(view["participants"])
        if view["last_message"]:
            found.append(view["last_message"]["author"])
    return found


def conversation_reply(view: dict[str, Any]) -> Response:
    """A conversation and the names of its people: the page never shows an identity where
    it has a name (``webapp/names``)."""
    return jsonify({"conversation": view, "names": names_for(people_in(view))})


def conversation_view(
    services: Services, conversation: ConversationRecord, mutes: dict[str, Mute] | None = None
) -> dict[str, Any]:
    """The conversation as this user sees it; ``mutes`` are the user's (looked up if None)."""
    gateway = services.gateway
    participants = gateway.participants(conversation.sid)
    last = gateway.latest_message(conversation.sid)
    mine = next((p for p in participants if p.identity == current_user.identity), None)
    read = mine.last_read_message_index if mine else None
    unread = 0 if last is None else max(0, last.index - (-1 if read is None else read))
    view = conversation_json(conversation, participants, last, unread)
    if mutes is None:
        mute = services.mutes.muted_until(current_user.identity, conversation.sid)
    else:
        mute = mutes.get(conversation.sid)
    view["mute"] = mute.to_json() if mute else None
    return view


def _unmute_ended(services: Services) -> None:
    """Timed mutes of the current user that ran out: Twilio's level back to ``default``.

    Run when the user loads their conversations, so Twilio lags Parley by at most that long.
    """
    me = current_user.identity
    for sid in services.mutes.clear_ended(me):
        try:
            set_notification_level(services.gateway, me, sid, muted=False)
        except GatewayError as error:
            log.warning("Twilio NotificationLevel of %s not reset for %r: %s", sid, me, error)


@bp.get("/conversations")
@login_required
def list_conversations() -> Response:
    services = get_services()
    _unmute_ended(services)
    mutes = services.mutes.of(current_user.identity)
    views = [
        conversation_view(services, c, mutes)
        for c in services.gateway.conversations_of(current_user.identity)
    ]
    views.sort(key=lambda view: view["last_activity"], reverse=True)
    return jsonify({"conversations": views, "names": names_for(people_in(*views))})


@bp.post("/conversations")
@login_required
def create_conversation() -> tuple[Response, int]:
    body = json_body({"participants", "friendly_name"})
    names = body.get("participants")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ApiError(400, "invalid_field", "'participants' must be a list of identities.")
    if len(names) > MAX_GROUP_SIZE:
        raise ApiError(400, "too_many", f"A conversation has at most {MAX_GROUP_SIZE} people.")
    friendly_name = string_field(
        body, "friendly_name", max_length=MAX_FRIENDLY_NAME, required=False
    )
    me = current_user.identity
    others = sorted({known_user(name).identity for name in names} - {me})
    if not others:
        raise ApiError(400, "invalid_field", "Pick someone other than yourself.")

    services = get_services()
    is_dm = len(others) == 1 and not friendly_name
    conversation, created = services.gateway.create_conversation(
        unique_name=_dm_unique_name(me, others[0]) if is_dm else None,
        friendly_name=friendly_name,
    )
    present = {p.identity for p in services.gateway.participants(conversation.sid)}
    missing = [i for i in [me, *others] if i not in present]
    services.gateway.add_chat_participants(conversation.sid, missing, added_by=me)
    if missing:
        services.membership.forget(conversation.sid)
    view = conversation_view(services, conversation)
    return conversation_reply(view), 201 if created else 200


@bp.get("/conversations/<sid>")
@login_required
def get_conversation(sid: str) -> Response:
    services = get_services()
    require_member(services, sid)
    return conversation_reply(conversation_view(services, services.gateway.fetch_conversation(sid)))


@bp.get("/conversations/<sid>/messages")
@login_required
def list_messages(sid: str) -> Response:
    services = get_services()
    require_member(services, sid)
    limit = int_arg("limit", 50, low=1, high=PAGE_LIMIT) or 50
    before = int_arg("before", None, low=0, high=2**31)
    page, has_more = services.gateway.message_page(sid, limit=limit, before=before)
    names = names_for(m.author for m in page)
    return jsonify(
        {"messages": [message_json(m) for m in page], "has_more": has_more, "names": names}
    )


@bp.post("/conversations/<sid>/messages")
@login_required
def send_message(sid: str) -> tuple[Response, int]:
    services = get_services()
    participants = require_member(services, sid)
    body = json_body({"body", "client_id", "media_sids"})
    text = (
        string_field(body, "body", max_length=services.config.MAX_MESSAGE_BODY, required=False)
        or ""
    )
    media_sids = own_uploads(sid, body.get("media_sids"))
    if not text.strip() and not media_sids:
        raise ApiError(400, "empty_message", "A message cannot be empty.")
    client_id = string_field(body, "client_id", max_length=MAX_CLIENT_ID, required=False)
    attributes = {"client_id": client_id} if client_id else {}
    earlier = _already_sent(services, sid, client_id) if client_id else None
    if earlier is not None:
        return jsonify({"message": message_json(earlier)}), 200
    message = services.gateway.send_message(
        sid, current_user.identity, text, attributes, media_sids
    )
    forget_uploads(media_sids)
    typing_ended(services, current_user.identity, sid)  # a quick reply may show "typing…"
    # One's own message is read: it must not count as unread on one's other devices.
    services.gateway.mark_read(sid, own_participant(participants).sid, message.index)
    return jsonify({"message": message_json(message)}), 201


def _already_sent(services: Services, sid: str, client_id: str) -> MessageRecord | None:
    """The user's message in this conversation that already carries ``client_id``, if any.

    A retry comes seconds after the first try, so the newest page of messages is where it
    would be. Limits: a retry made after more than ``RETRY_WINDOW`` newer messages, or two
    tries racing each other (both checked before either was stored), can still duplicate.
    """
    for message in services.gateway.recent_messages(sid, RETRY_WINDOW):
        mine = message.author == current_user.identity
        if mine and message.attributes.get("client_id") == client_id:
            return message
    return None


@bp.post("/conversations/<sid>/read")
@login_required
def mark_read(sid: str) -> Response:
    """Move the user's read horizon (Twilio's ``LastReadMessageIndex``) forward."""
    services = get_services()
    participants = require_member(services, sid)
    body = json_body({"index"})
    index = body.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ApiError(400, "invalid_field", "'index' must be a message index (0 or more).")
    horizon = services.gateway.advance_read_horizon(sid, own_participant(participants).sid, index)
    return jsonify({"conversation_sid": sid, "last_read_message_index": horizon})
