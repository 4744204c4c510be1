"""``PUT/DELETE /api/conversations/<sid>/mute``: mute a conversation for an hour, a day or
until turned off, or turn that off again.

Parley's database holds the mute (``webapp/people/mutes.py``), so every browser and device of
the user agrees; the user's other streams hear it as a ``conversation_muted`` event (logged,
so a tab reconnecting later still gets it). Twilio's ``NotificationLevel`` is set to match for
Twilio's SDK clients; Twilio failing to take it does not undo Parley's mute (it is logged).
"""

from __future__ import annotations

import logging

from flask import Response, jsonify
from flask_login import current_user, login_required

from webapp.api import bp
from webapp.api.conversations import require_member
from webapp.api.validation import json_body
from webapp.errors import ApiError
from webapp.events.broker import BrokerUnavailable
from webapp.events.types import CONVERSATION_MUTED, Event
from webapp.people.mutes import DURATIONS, Mute
from webapp.services import Services, get_services
from webapp.twilio_gateway import GatewayError
from webapp.twilio_gateway.users import set_notification_level

log = logging.getLogger(__name__)


@bp.put("/conversations/<sid>/mute")
@login_required
def mute_conversation(sid: str) -> Response:
    """Body ``{"duration": "hour" | "day" | "forever"}``; muting again replaces the end time."""
    services = get_services()
    require_member(services, sid)
    duration = json_body({"duration"}).get("duration")
    if not isinstance(duration, str) or duration not in DURATIONS:
        raise ApiError(400, "invalid_field", "'duration' must be one of: hour, day, forever.")
    mutes = services.mutes
    mute = mutes.mute(current_user.identity, sid, mutes.until_for(duration))
    return _changed(services, sid, mute)


@bp.delete("/conversations/<sid>/mute")
@login_required
def unmute_conversation(sid: str) -> Response:
    services = get_services()
    require_member(services, sid)
    services.mutes.unmute(current_user.identity, sid)
    return _changed(services, sid, None)


def _changed(services: Services, sid: str, mute: Mute | None) -> Response:
    """Tell Twilio and the user's other streams; answer with the mute as it now stands."""
    me = current_user.identity
    try:
        set_notification_level(services.gateway, me, sid, muted=mute is not None)
    except GatewayError as error:
        log.warning("Twilio NotificationLevel of %s not set for %r: %s", sid, me, error)
    data = {"conversation_sid": sid, "mute": mute.to_json() if mute else None}
    try:
        services.broker.publish(Event(CONVERSATION_MUTED, data), [me])
    except BrokerUnavailable:
        # Stored all the same: the other tabs see it when they next load the list.
        log.warning("Mute of %s by %r not relayed: the broker is unavailable", sid, me)
    return jsonify(data)
