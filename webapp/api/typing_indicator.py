"""``POST /api/conversations/<sid>/typing``: "Bob is typing…", relayed by Parley itself.

Twilio Conversations has no typing webhook or REST call (typing exists only between its SDKs
and Twilio), so the page tells Parley, and Parley sends a ``typing`` signal to the other
participants' streams: no log, no id, no replay. The page sends at most one every few
seconds while the user types; the server drops anything faster (see ``typing_throttle``).
"""

from __future__ import annotations

from flask_login import current_user, login_required

from webapp.api import bp
from webapp.api.conversations import require_member
from webapp.api.typing_throttle import allow_typing
from webapp.errors import ApiError
from webapp.events.broker import BrokerUnavailable
from webapp.events.types import TYPING, Event
from webapp.people.participants import identities
from webapp.services import get_services


@bp.post("/conversations/<sid>/typing")
@login_required
def send_typing(sid: str) -> tuple[str, int]:
    """204 whether relayed or dropped by the throttle: typing is best effort."""
    services = get_services()
    participants = require_member(services, sid)
    me = current_user.identity
    if allow_typing(services, me, sid):
        others = [i for i in identities(participants) if i != me]
        event = Event(TYPING, {"conversation_sid": sid, "identity": me})
        try:
            services.broker.signal(event, others)
        except BrokerUnavailable as exc:
            raise ApiError(503, "unavailable", "Typing could not be relayed; try again.") from exc
    return "", 204
