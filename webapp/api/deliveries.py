"""Each phone's delivery of one message, read back from Twilio's Receipts list.

Live, the page hears every receipt over the stream (``delivery_updated``); a page loaded later
has only the message's delivery summary. It asks here, for one message at a time (when its
status is opened, or when the summary says some phone did not get it), rather than once per
message of the history.
"""

from __future__ import annotations

import re

from flask import Response, jsonify
from flask_login import login_required

from webapp.api import bp
from webapp.api.conversations import require_member
from webapp.errors import ApiError
from webapp.presenters import delivery_json
from webapp.services import get_services
from webapp.twilio_gateway import GatewayError

_MESSAGE_SID = re.compile(r"IM[0-9a-f]{32}")


@bp.get("/conversations/<sid>/messages/<message_sid>/deliveries")
@login_required
def message_deliveries(sid: str, message_sid: str) -> Response:
    """``{"deliveries": [...]}``, one entry per phone still in the conversation, shaped as the
    stream's ``delivery_updated`` (address, status, Twilio's reason in words)."""
    services = get_services()
    participants = require_member(services, sid)
    if not _MESSAGE_SID.fullmatch(message_sid):
        raise ApiError(404, "not_found", "Message not found.")
    try:
        receipts = services.gateway.delivery_receipts(sid, message_sid)
    except GatewayError as exc:
        if exc.not_found:  # the conversation exists (its member asked): the message does not
            raise ApiError(404, "not_found", "Message not found.") from exc
        raise
    by_sid = {p.sid: p for p in participants if p.address}
    deliveries = [
        delivery_json(sid, message_sid, by_sid[r.participant_sid], r.status, r.error_code)
        for r in receipts
        if r.participant_sid in by_sid
    ]
    return jsonify({"deliveries": deliveries})
