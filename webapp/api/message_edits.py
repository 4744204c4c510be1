"""Editing and deleting one's own messages; every participant hears of it over the stream.

Rule: only the author may change a message. Another participant, who can see the message,
gets ``403``; someone outside the conversation gets ``404``, as everywhere else.
"""

from __future__ import annotations

from flask import Response, jsonify
from flask_login import current_user, login_required

from webapp.api import bp
from webapp.api.conversations import message_lookup, require_member
from webapp.api.validation import json_body, string_field
from webapp.errors import ApiError
from webapp.presenters import message_json
from webapp.services import Services, get_services
from webapp.twilio_gateway import MessageRecord


def _own_message(services: Services, sid: str, message_sid: str) -> MessageRecord:
    """The current user's message ``message_sid`` in conversation ``sid``."""
    require_member(services, sid)
    with message_lookup(message_sid):
        message = services.gateway.fetch_message(sid, message_sid)
    if message.author != current_user.identity:
        raise ApiError(403, "not_author", "Only the author can change a message.")
    return message


@bp.patch("/conversations/<sid>/messages/<message_sid>")
@login_required
def edit_message(sid: str, message_sid: str) -> Response:
    services = get_services()
    body = json_body({"body"})
    text = string_field(body, "body", max_length=services.config.MAX_MESSAGE_BODY) or ""
    if not text.strip():
        raise ApiError(400, "empty_message", "A message cannot be empty; delete it instead.")
    message = _own_message(services, sid, message_sid)
    attributes = {**message.attributes, "edited": True}
    edited = services.gateway.update_message(sid, message_sid, text, attributes)
    return jsonify({"message": message_json(edited)})


@bp.delete("/conversations/<sid>/messages/<message_sid>")
@login_required
def delete_message(sid: str, message_sid: str) -> tuple[str, int]:
    services = get_services()
    _own_message(services, sid, message_sid)
    services.gateway.delete_message(sid, message_sid)
    return "", 204
