"""Starting and ending a user's sessions: shared by the login form and the host site's
hand-over (``webapp/sso``), so both rotate and end sessions the same way."""

from __future__ import annotations

import logging

from flask import session
from flask_login import login_user

from webapp.events.broker import BrokerUnavailable
from webapp.extensions import db
from webapp.models import User
from webapp.services import get_services

log = logging.getLogger(__name__)


def start_session(user: User) -> None:
    """A fresh session (nothing planted before login survives it) that expires
    ``SESSION_LIFETIME_HOURS`` after the user's last request."""
    session.clear()
    session.permanent = True
    login_user(user)


def end_sessions(user: User) -> None:
    """Void every copy of ``user``'s session cookie (all devices) and end their open streams
    in every process."""
    user.end_sessions()
    db.session.commit()
    get_services().session_users.forget(user.identity)
    try:
        get_services().broker.close_user_streams(user.identity)
    except BrokerUnavailable:
        log.warning("streams of %s end at their next session check: broker unavailable", user.id)
