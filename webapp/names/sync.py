"""Parley's display names, copied to Twilio's User ``friendly_name`` so that the host's own
Twilio clients show the same names.

Sent at every sign-in from the host site and at registration: one Twilio call, on events that
are rare next to messages. Sending every time (not only when the name changed) is also the
retry: a failure (Twilio down, slow) is logged and never blocks the sign-in, and the user's
next sign-in sends the name again.
"""

from __future__ import annotations

import logging

from webapp.models import User
from webapp.services import get_services
from webapp.twilio_gateway import GatewayError
from webapp.twilio_gateway.users import set_user_friendly_name

log = logging.getLogger(__name__)


def publish_name(user: User) -> bool:
    """Copy the user's name to Twilio; ``False`` (logged) when Twilio did not take it.

    A host's user signed in without a name has none to copy: the ``friendly_name`` the host
    may have set in Twilio stays (and is what Parley shows). A password account's name is its
    username unless it has a display name."""
    name = user.display_name or (user.username if user.has_password else None)
    if not name:
        return True
    try:
        set_user_friendly_name(get_services().gateway, user.identity, name)
    except GatewayError as error:
        log.warning(
            "friendly_name of user %s not sent to Twilio (%s); sent again at the next sign-in",
            user.id,
            error.message,
        )
        return False
    get_services().names.forget(user.identity)
    return True
