"""``POST /sso/login`` (a person handed over by the host site) and ``POST /sso/logout`` (the
host's back-channel call that ends a user's sessions).

Both are exempt from CSRF protection: a cross-site POST is exactly how the host's page hands
a person over, and the signed, single-use, short-lived token is the proof that the host made
the request; a forged request has no token to send. Neither accepts GET, so a token never
travels in a URL (browser history, logs, Referer).
"""

from __future__ import annotations

import logging
import math
import time

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_limiter import RequestLimit
from flask_limiter.util import get_remote_address

from webapp.auth.sessions import end_sessions, start_session
from webapp.errors import json_error
from webapp.events.broker import BrokerUnavailable
from webapp.extensions import csrf, limiter
from webapp.models import User
from webapp.sso import accept_once, current_rules, user_for
from webapp.sso.tokens import LOGOUT_PURPOSE, HostIdentity, TokenRefused, TokenRules

log = logging.getLogger(__name__)

bp = Blueprint("sso", __name__, url_prefix="/sso")

TOO_MANY = "Too many sign-ins that did not work. Wait a minute, then try again."
INVALID_LOGOUT = "The logout token was refused; Parley's log says why (sso logout refused)."
BUSY = "Parley could not check the sign-in just now. Go back and try again in a moment."


def register_routes(app: Flask) -> None:
    app.register_blueprint(bp)
    csrf.exempt(bp)  # the token is the proof (module docstring)


def _refused_page(reason: str, status: int) -> Response:
    page = render_template(
        "sso/refused.html", reason=reason, login_url=current_app.config["PARLEY_SSO_LOGIN_URL"]
    )
    return Response(page, status=status)


def _too_many(limit: RequestLimit) -> Response:
    response = _refused_page(TOO_MANY, 429)
    response.headers["Retry-After"] = str(max(1, math.ceil(limit.reset_at - time.time())))
    return response


def _refused(response: Response) -> bool:
    return response.status_code == 401


def _rules() -> TokenRules:
    rules = current_rules()
    assert rules is not None  # the routes exist only with a key
    return rules


def _verified(purpose: str | None) -> HostIdentity:
    who = _rules().verify(request.form.get("token"), purpose=purpose)
    accept_once(who)
    return who


@bp.post("/login")
@limiter.limit(
    lambda: str(current_app.config["LOGIN_LIMIT_PER_IP"]),
    key_func=lambda: "sso-ip:" + get_remote_address(),
    deduct_when=_refused,
    on_breach=_too_many,
)
def login() -> ResponseReturnValue:
    """Sign the person the token names in, with a fresh session, and take them to the chat
    (or the token's ``next``). Any refusal: 401, a general reason, the exact one logged."""
    try:
        who = _verified(purpose=None)
        user = user_for(who)
    except TokenRefused as refusal:
        log.warning("sso login refused: %s", refusal.detail)
        return _refused_page(refusal.public, 401)
    except BrokerUnavailable:
        log.warning("sso login not checked: the broker (replay store) is unavailable")
        return _refused_page(BUSY, 503)
    start_session(user)
    log.info("sso login of user %s", user.id)
    return redirect(who.next_path or url_for("chat.index"))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """The host's back-channel: a token with ``"purpose": "logout"`` whose ``sub`` names the
    user. Every session of theirs ends, on every device, and their open streams close.
    ``{"ended": false}`` when Parley never saw that user (nothing to end)."""
    try:
        who = _verified(purpose=LOGOUT_PURPOSE)
    except TokenRefused as refusal:
        log.warning("sso logout refused: %s", refusal.detail)
        return json_error(401, "invalid_token", INVALID_LOGOUT)
    except BrokerUnavailable:
        return json_error(503, "unavailable", "The logout could not be checked; try again.")
    user = User.by_identity(who.identity)
    if user is not None:
        end_sessions(user)
        log.info("sso logout of user %s", user.id)
    return jsonify({"ended": user is not None})
