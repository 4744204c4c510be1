"""People one can start a conversation with, and SDK access tokens."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flask import Response, jsonify
from flask_login import current_user, login_required

from webapp.api import bp
from webapp.extensions import db
from webapp.models import User
from webapp.presenters import iso
from webapp.services import get_services
from webapp.twilio_gateway import issue_access_token
from webapp.twilio_gateway.tokens import DEFAULT_TOKEN_TTL


@bp.get("/users")
@login_required
def list_users() -> Response:
    """Everyone else, by identity (what the API takes) and display name (what people read).
    ``username`` repeats the identity for clients written before identities and usernames
    differed."""
    rows = db.session.execute(
        db.select(User.identity, User.display_name)
        .where(User.id != current_user.id)
        .order_by(User.identity)
    ).all()
    users = [
        {"identity": identity, "display_name": name or identity, "username": identity}
        for identity, name in rows
    ]
    return jsonify({"users": users})


@bp.get("/token")
@login_required
def access_token() -> Response:
    """A Twilio access token for the logged-in user only, never a client-supplied identity."""
    config = get_services().config
    issued_at = int(time.time())  # read before signing: expires_at is never later than exp
    token = issue_access_token(config, current_user.identity, DEFAULT_TOKEN_TTL)
    return jsonify(
        {
            "token": token,
            "identity": current_user.identity,
            "ttl": DEFAULT_TOKEN_TTL,
            # Refresh before this (docs/sdk-clients.md); SDKs also fire tokenAboutToExpire.
            "expires_at": iso(datetime.fromtimestamp(issued_at + DEFAULT_TOKEN_TTL, UTC)),
        }
    )
