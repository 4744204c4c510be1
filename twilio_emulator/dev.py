"""Emulator-only endpoints for development: fake an inbound SMS, read what was 'sent' by SMS.

Twilio has no such endpoints; they stand in for a phone. Same basic auth as the REST API.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from twilio_emulator import errors, resources
from twilio_emulator.resources import Scope, rest_date
from twilio_emulator.state import EmulatorState

bp = Blueprint("twilio_emulator_dev", __name__, url_prefix="/_dev")


def _state() -> EmulatorState:
    state: EmulatorState = current_app.extensions["twilio_emulator"]
    return state


@bp.post("/sms")
def inbound_sms() -> Response:
    """`From` (the phone), `To` (conversation SID, unique name, or the Twilio number), `Body`.

    Creates the message as Twilio would for an SMS from that participant, and always fires
    its webhooks with `Source=SMS`."""
    state = _state()
    sender, target, body = (request.form.get(name, "") for name in ("From", "To", "Body"))
    if not sender or not target or not body:
        raise errors.bad_request(errors.INVALID_PARAMETER, "From, To and Body are required")
    try:
        msg = state.store.receive_sms(
            state.settings.service_sid, from_=sender, to=target, body=body
        )
    except errors.TwilioError as error:
        if error.code == errors.NOT_FOUND and not error.message:
            error.message = f"No conversation {target}"
        raise
    scope = Scope(state.settings.account_sid, state.settings.service_sid, False)
    response = jsonify(resources.message(scope, msg))
    response.status_code = 201
    return response


@bp.get("/outbox")
def outbox() -> Response:
    """Every SMS the emulator 'sent' to phone participants, oldest first."""
    return jsonify(
        {
            "messages": [
                {
                    "to": sms.to,
                    "from": sms.from_,
                    "body": sms.body,
                    "status": sms.status,
                    "conversation_sid": sms.conversation_sid,
                    "message_sid": sms.message_sid,
                    "participant_sid": sms.participant_sid,
                    "date_created": rest_date(sms.date_created),
                }
                for sms in _state().store.outbox()
            ]
        }
    )
