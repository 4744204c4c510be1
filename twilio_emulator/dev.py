"""Emulator-only endpoints for development: fake an inbound SMS or MMS, make a phone number
fail, read what was 'sent' by SMS.

Twilio has no such endpoints; they stand in for a phone. Same basic auth as the REST API.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from twilio_emulator import errors, limits, resources
from twilio_emulator.resources import Scope, rest_date
from twilio_emulator.state import EmulatorState

bp = Blueprint("twilio_emulator_dev", __name__, url_prefix="/_dev")


def _state() -> EmulatorState:
    state: EmulatorState = current_app.extensions["twilio_emulator"]
    return state


@bp.post("/sms")
def inbound_sms() -> Response:
    """`From` (the phone), `To` (conversation SID, unique name, or the Twilio number), `Body`
    and/or `MediaSid` (repeatable: media uploaded to MCS first, which makes it an MMS).

    Creates the message as Twilio would for an SMS from that participant, and always fires
    its webhooks with `Source=SMS`."""
    state = _state()
    sender, target, body = (request.form.get(name, "") for name in ("From", "To", "Body"))
    media_sids = tuple(sid for sid in request.form.getlist("MediaSid") if sid)
    if not sender or not target or not (body or media_sids):
        raise errors.bad_request(
            errors.INVALID_PARAMETER, "From, To and Body (or MediaSid) are required"
        )
    try:
        msg = state.store.receive_sms(
            state.settings.service_sid,
            from_=sender,
            to=target,
            body=body or None,
            media_sids=media_sids,
        )
    except errors.TwilioError as error:
        if error.code == errors.NOT_FOUND and not error.message:
            error.message = f"No conversation {target}"
        raise
    scope = Scope(state.settings.account_sid, state.settings.service_sid, False)
    response = jsonify(resources.message(scope, msg))
    response.status_code = 201
    return response


@bp.post("/sms-fail")
def fail_number() -> Response:
    """`Number` (E.164, or `whatsapp:` and E.164): texts to it fail from now on with `Code`
    (a Twilio error code, default 30006); `Code=0` lets them through again."""
    number, raw_code = request.form.get("Number", ""), request.form.get("Code", "30006")
    if not limits.CHANNEL_ADDRESS.fullmatch(number) or not raw_code.isdigit():
        raise errors.bad_request(
            errors.INVALID_PARAMETER, "Number must be E.164 and Code a Twilio error code"
        )
    code = int(raw_code)
    _state().store.set_failing_number(number, code or None)
    return jsonify({"number": number, "code": code or None})


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
                    "error_code": sms.error_code,
                    "media": [
                        {
                            "sid": m.sid,
                            "filename": m.filename,
                            "content_type": m.content_type,
                            "size": m.size,
                        }
                        for m in sms.media
                    ],
                    "conversation_sid": sms.conversation_sid,
                    "message_sid": sms.message_sid,
                    "participant_sid": sms.participant_sid,
                    "date_created": rest_date(sms.date_created),
                }
                for sms in _state().store.outbox()
            ]
        }
    )
