"""``GET /api/presence``: who among the user's contacts is online, for the page's first render.

Afterwards the stream's ``presence`` signals keep it current (see ``docs/stream.md``).
"""

from __future__ import annotations

from flask import Response, jsonify
from flask_login import current_user, login_required

from webapp.api import bp
from webapp.services import get_services


@bp.get("/presence")
@login_required
def presence() -> Response:
    """``{"presence": {"bob": true, "carol": false}}`` for everyone sharing a conversation."""
    services = get_services()
    contacts = services.contacts.of(current_user.identity)
    online = services.presence.online(contacts)
    return jsonify({"presence": {name: name in online for name in sorted(contacts)}})
