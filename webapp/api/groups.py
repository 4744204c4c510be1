"""Groups: rename, add a person, leave.

Rules: any participant may rename a group and add a chat user to it; the only participant one
may remove is oneself (leaving). A 1:1 conversation stays a pair: it cannot be renamed or grown
(start a group instead), because its unique name stands for exactly those two people.
"""

from __future__ import annotations

from flask import Response, jsonify
from flask_login import current_user, login_required

from webapp.api import bp
from webapp.api.conversations import (
    MAX_FRIENDLY_NAME,
    MAX_GROUP_SIZE,
    conversation_view,
    gateway_error,
    own_participant,
    require_member,
)
from webapp.api.validation import json_body, known_username, string_field
from webapp.errors import ApiError
from webapp.services import Services, get_services
from webapp.twilio_gateway import ConversationRecord, GatewayError


def _group(services: Services, sid: str) -> ConversationRecord:
    try:
        conversation = services.gateway.fetch_conversation(sid)
    except GatewayError as exc:
        raise gateway_error(exc) from exc
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
    try:
        renamed = services.gateway.rename_conversation(sid, name)
        view = conversation_view(services, renamed)
    except GatewayError as exc:
        raise gateway_error(exc) from exc
    return jsonify({"conversation": view})


@bp.post("/conversations/<sid>/participants")
@login_required
def add_participant(sid: str) -> tuple[Response, int]:
    services = get_services()
    participants = require_member(services, sid)
    body = json_body({"username"})
    username = known_username(string_field(body, "username", max_length=256) or "")
    conversation = _group(services, sid)
    present = any(p.identity == username for p in participants)
    if not present and len(participants) >= MAX_GROUP_SIZE:
        raise ApiError(400, "too_many", f"A conversation has at most {MAX_GROUP_SIZE} people.")
    try:
        if not present:
            services.gateway.add_chat_participants(sid, [username], added_by=current_user.identity)
            services.membership.forget(sid)
        view = conversation_view(services, conversation)
    except GatewayError as exc:
        raise gateway_error(exc) from exc
    return jsonify({"conversation": view}), 200 if present else 201


@bp.delete("/conversations/<sid>/participants/me")
@login_required
def leave_conversation(sid: str) -> tuple[str, int]:
    services = get_services()
    me = own_participant(require_member(services, sid))
    try:
        services.gateway.remove_participant(sid, me.sid)
    except GatewayError as exc:
        raise gateway_error(exc) from exc
    services.membership.forget(sid)
    return "", 204
