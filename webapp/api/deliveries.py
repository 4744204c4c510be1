"""Each phone's delivery of one message, read back from Twilio's Receipts list.

Live, the page hears every receipt over the stream (``delivery_updated``); a page loaded later
has only the message's delivery summary. It asks here, for one message at a time (when its
status is opened, or when the summary says some phone did not get it), rather than once per
message of the history.
"""

from __future__ import annotations

from flask import Response, jsonify
from flask_login import login_required

from webapp.api import bp
from webapp.api.conversations import message_lookup, require_member
from webapp.presenters import delivery_json
from webapp.services import get_services


@bp.get("/conversations/<sid>/messages/<message_sid>/deliveries")
@login_required
def message_deliveries(sid: str, message_sid: str) -> Response:
    """``{"deliveries": [...]}``, one entry per phone still in the conversation, shaped as the
    stream's ``delivery_updated`` (address, status, Twilio's reason in words)."""
    services = get_services()
    participants = require_member(services, sid)
    with message_lookup(message_sid):
        receipts = services.gateway.delivery_receipts(sid, message_sid)
    by_sid = {p.sid: p for p in participants if p.address}
    deliveries = [
        delivery_json(sid, message_sid, by_sid[r.participant_sid], r.status, r.error_code)
        for r in receipts
        if r.participant_sid in by_sid
    ]
    return jsonify({"deliveries": deliveries})
