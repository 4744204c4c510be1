"""Groups: rename, add a person (a chat user or a phone number by SMS), remove one, leave.

Rules: any participant may rename a group, add a chat user or a phone number to it, and
remove another member (there are no owners or admins yet: every member may do what any other
may, and everyone sees who did it). Oneself leaves with Leave. A 1:1 conversation stays a pair:
it cannot be renamed or grown (start a group instead), because its unique name stands for
exactly those two people.
"""

from __future__ import annotations

from flask import Response
from flask_login import current_user, login_required

from webapp.api import bp
from webapp.api.conversations import (
    MAX_FRIENDLY_NAME,
    MAX_GROUP_SIZE,
    conversation_reply,
    conversation_view,
    require_member,
)
from webapp.api.validation import (
    WHATSAPP_PREFIX,
    identity_arg,
    json_body,
    known_user,
    phone_address,
    string_field,
)
from webapp.errors import ApiError
from webapp.models import User
from webapp.services import Services, get_services
from webapp.twilio_gateway import ConversationRecord, GatewayError, ParticipantRecord
from webapp.twilio_gateway.errors import (
    ADDRESS_EQUALS_PROXY,
    BINDING_PAIR_IN_USE,
    NON_CHAT_PARTICIPANTS_LIMIT,
)

#: Twilio's limit on SMS (and other non-chat) participants in one conversation.
MAX_SMS_PARTICIPANTS = 50


def _group(services: Services, sid: str) -> ConversationRecord:
    conversation = services.gateway.fetch_conversation(sid)
    if (conversation.unique_name or "").startswith("dm:"):
        raise ApiError(
            400, "not_a_group", "A conversation between two people cannot change; start a group."
        )
    return conversation


@bp.patch("/conversations/<sid>")
@login_required
def rename_conversation(sid: str) -> Response:
    services = get_services()
    require_member(services, sid)
    body = json_body({"friendly_name"})
    name = (string_field(body, "friendly_name", max_length=MAX_FRIENDLY_NAME) or "").strip()
    if not name:
        raise ApiError(400, "missing_field", "A group needs a name.")
    _group(services, sid)
    renamed = services.gateway.rename_conversation(sid, name)
    return conversation_reply(conversation_view(services, renamed))


@bp.post("/conversations/<sid>/participants")
@login_required
def add_participant(sid: str) -> tuple[Response, int]:
    """Add ``{"identity": ...}`` (a chat user; ``username`` is the same field under its older
    name) or ``{"phone_number": ...}`` (E.164 for SMS, ``whatsapp:+…`` for WhatsApp)."""
    services = get_services()
    participants = require_member(services, sid)
    body = json_body({"identity", "username", "phone_number"})
    if sum(field in body for field in ("identity", "username", "phone_number")) != 1:
        raise ApiError(
            400, "missing_field", "Give either 'identity' or 'phone_number' (one of the two)."
        )
    if "phone_number" in body:
        return _add_phone(services, sid, participants, body)
    field = "identity" if "identity" in body else "username"
    username = known_user(string_field(body, field, max_length=1024) or "").identity
    conversation = _group(services, sid)
    present = any(p.identity == username for p in participants)
    if not present and len(participants) >= MAX_GROUP_SIZE:
        raise ApiError(400, "too_many", f"A conversation has at most {MAX_GROUP_SIZE} people.")
    if not present:
        services.gateway.add_chat_participants(sid, [username], added_by=current_user.identity)
        services.membership.forget(sid)
    view = conversation_view(services, conversation)
    return conversation_reply(view), 200 if present else 201


def _add_phone(
    services: Services, sid: str, participants: list[ParticipantRecord], body: dict[str, object]
) -> tuple[Response, int]:
    """Add a phone as an SMS participant texted from the configured Twilio number, or as a
    WhatsApp participant reached from the configured WhatsApp sender."""
    number = phone_address(string_field(body, "phone_number", max_length=64) or "")
    proxy = _proxy_for(services, number)
    if number == proxy:
        raise ApiError(
            400, "invalid_phone_number", f"{number} is Parley's own Twilio number, not a phone."
        )
    conversation = _group(services, sid)
    present = any(p.address == number for p in participants)
    phones = sum(1 for p in participants if p.address)
    if not present and phones >= MAX_SMS_PARTICIPANTS:
        raise ApiError(
            400, "too_many", f"A conversation has at most {MAX_SMS_PARTICIPANTS} phone numbers."
        )
    try:
        if not present:
            services.gateway.add_sms_participant(sid, number, proxy, current_user.identity)
            services.membership.forget(sid)
        view = conversation_view(services, conversation)
    except GatewayError as exc:
        refusal = _sms_refusal(exc, number)
        if refusal is None:
            raise
        raise refusal from exc
    return conversation_reply(view), 200 if present else 201


def _proxy_for(services: Services, address: str) -> str:
    """The Twilio address that reaches ``address``: Twilio's binding pairs each phone with one
    of the account's numbers (or its WhatsApp sender), which Parley must be told."""
    if address.startswith(WHATSAPP_PREFIX):
        sender = services.config.TWILIO_WHATSAPP_NUMBER
        if not sender:
            raise ApiError(
                400,
                "whatsapp_not_configured",
                "Adding a WhatsApp number needs TWILIO_WHATSAPP_NUMBER (your Twilio WhatsApp "
                "sender, like +14155238886) set on the server.",
            )
        return WHATSAPP_PREFIX + sender
    proxy = services.config.TWILIO_PHONE_NUMBER
    if not proxy:
        raise ApiError(
            400,
            "sms_not_configured",
            "Adding a phone number needs SMS, and SMS needs TWILIO_PHONE_NUMBER (the Twilio "
            "number that texts the phone) set on the server.",
        )
    return proxy


def _sms_refusal(exc: GatewayError, number: str) -> ApiError | None:
    """Twilio's refusals of an SMS participant, in words the person adding it understands
    (``None``: one the API's error handler says as it says any other)."""
    if exc.code == BINDING_PAIR_IN_USE:
        return ApiError(
            409,
            "phone_number_in_use",
            f"{number} is already in another conversation through this Twilio number; Twilio "
            "allows one conversation per phone and Twilio number (or WhatsApp sender). Remove "
            "it there first.",
        )
    if exc.code == ADDRESS_EQUALS_PROXY:
        return ApiError(
            400, "invalid_phone_number", f"{number} is Parley's own Twilio number, not a phone."
        )
    if exc.code == NON_CHAT_PARTICIPANTS_LIMIT:
        return ApiError(
            400, "too_many", f"A conversation has at most {MAX_SMS_PARTICIPANTS} phone numbers."
        )
    return None


#: What ``…/participants/me`` means when nobody of that identity is in the conversation: the
#: caller (clients written before ``…/membership`` leave this way).
SELF_ALIAS = "me"


@bp.delete("/conversations/<sid>/membership")
@login_required
def leave_conversation(sid: str) -> tuple[str, int]:
    """Leave: a path of its own, so that no identity (``me`` included) is shadowed."""
    services = get_services()
    _leave(services, sid, require_member(services, sid))
    return "", 204


def _leave(services: Services, sid: str, participants: list[ParticipantRecord]) -> None:
    me = next((p for p in participants if p.identity == current_user.identity), None)
    if me is None:  # gone since the cached list said otherwise
        raise ApiError(404, "not_found", "Conversation not found.")
    services.gateway.remove_participant(sid, me.sid)
    services.membership.forget(sid)
    services.mutes.unmute(current_user.identity, sid)  # rejoining starts unmuted


@bp.delete("/conversations/<sid>/participants/<path:who>")
@login_required
def remove_participant(sid: str, who: str) -> tuple[str, int]:
    """Remove someone from a group, a chat user (by identity, which may hold a ``/``) or an
    SMS participant (by number): ``204``. Like renaming and adding, any member may; everyone
    sees who did it. A chat user whose identity starts with ``+`` is matched as an identity
    before being read as a phone number. ``me`` is the caller (Leave) unless someone else
    in the conversation has that identity."""
    services = get_services()
    participants = require_member(services, sid)
    if who == SELF_ALIAS:
        participants = services.gateway.participants(sid)  # uncached: whoever was just added
        if not any(p.identity == SELF_ALIAS != current_user.identity for p in participants):
            _leave(services, sid, participants)
            return "", 204
    user = User.by_identity(who)
    whatsapp = who[: len(WHATSAPP_PREFIX)].lower() == WHATSAPP_PREFIX
    is_phone = (who.startswith("+") or whatsapp) and user is None
    if is_phone:
        name = phone_address(who)
    else:
        # Not only Parley's users: the host's backend may have added people who never came.
        user = user or User.by_username(who)
        name = user.identity if user is not None else identity_arg(who)
    if name == current_user.identity:
        raise ApiError(400, "leave_instead", "To leave the group, use Leave.")
    _group(services, sid)
    current = services.gateway.participants(sid)  # uncached: the attributes are kept
    target = next((p for p in current if name in (p.identity, p.address)), None)
    if target is None and user is None and not is_phone:
        raise ApiError(404, "unknown_user", f"There is no user called '{name[:40]}'.")
    if target is None:
        raise ApiError(404, "not_found", f"{name} is not in this group.")
    services.gateway.remove_participant_by(sid, target, current_user.identity)
    services.membership.forget(sid)
    if target.identity:
        services.mutes.unmute(target.identity, sid)  # rejoining starts unmuted
    return "", 204
