"""Session login with flask-login; passwords hashed with werkzeug."""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from functools import cache
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_limiter import RequestLimit, RouteLimit
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.auth.forms import LoginForm, RegisterForm
from webapp.auth.sessions import end_sessions, start_session
from webapp.extensions import db, limiter
from webapp.models import User
from webapp.names import publish_name
from webapp.services import get_services

bp = Blueprint("auth", __name__)

#: One message for unknown user and wrong password: it does not tell which usernames exist.
INVALID_LOGIN = "Invalid username or password."
TOO_MANY_LOGINS = "Too many failed logins. Wait a minute, then try again."


def _ip_key() -> str:
    return "ip:" + get_remote_address()


def _username_key() -> str:
    """Per account, however the name is typed (the prefix keeps it apart from IP keys)."""
    return "user:" + request.form.get("username", "").strip().lower()[:64]


def _failed_login(response: Response) -> bool:
    """Only wrong credentials count: people who log in, or mistype nothing, are never slowed."""
    return response.status_code == 401


def _too_many_logins(limit: RequestLimit) -> Response:
    """The login page again, saying why, with 429 and ``Retry-After`` (not an error page)."""
    page = render_template(
        "auth/login.html", form=LoginForm(), error=TOO_MANY_LOGINS, demo_hint=_demo_hint()
    )
    retry_after = max(1, math.ceil(limit.reset_at - time.time()))
    return Response(page, status=429, headers={"Retry-After": str(retry_after)})


@cache
def _decoy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))


def _spend_a_password_check(password: str) -> None:
    check_password_hash(_decoy_hash(), password)


def _login_limit(setting: str, key_func: Callable[[], str]) -> RouteLimit:
    return limiter.limit(
        lambda: str(current_app.config[setting]),
        key_func=key_func,
        methods=["POST"],
        deduct_when=_failed_login,
        on_breach=_too_many_logins,
    )


def safe_next(target: str | None) -> str:
    """Only same-site paths, so ``?next=`` cannot send people to another site (browsers read
    ``//host`` and ``/\\host`` as another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.netloc and not parts.scheme:
            return target
    return url_for("chat.index")


def _demo_hint() -> str | None:
    config = get_services().config
    return None if config.LIVE_TWILIO else "Demo users: alice, bob and carol."


@bp.route("/login", methods=["GET", "POST"])
@_login_limit("LOGIN_LIMIT_PER_IP", _ip_key)
@_login_limit("LOGIN_LIMIT_PER_USERNAME", _username_key)
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("chat.index"))
    if current_app.config["PARLEY_SSO_ONLY"]:
        return _sign_in_on_host_site(200 if request.method == "GET" else 403)
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = User.by_username(form.username.data or "")
        password = form.password.data or ""
        if user is None:
            _spend_a_password_check(password)  # as slow as a wrong password: no timing leak
        elif user.check_password(password):
            start_session(user)
            return redirect(safe_next(request.args.get("next")))
        error = INVALID_LOGIN
    elif request.method == "POST":
        error = (
            "Enter your username and password."
            if not form.errors.get("csrf_token")
            else "Your session expired; please try again."
        )
    status = 401 if error == INVALID_LOGIN else 200 if error is None else 400
    return (
        render_template("auth/login.html", form=form, error=error, demo_hint=_demo_hint()),
        status,
    )


def _sign_in_on_host_site(status: int) -> ResponseReturnValue:
    """With ``PARLEY_SSO_ONLY`` people sign in on the host site, which hands them over."""
    page = render_template(
        "auth/sign_in_on_host.html", login_url=current_app.config["PARLEY_SSO_LOGIN_URL"]
    )
    return page, status


@bp.route("/register", methods=["GET", "POST"])
def register() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("chat.index"))
    if current_app.config["PARLEY_SSO_ONLY"]:
        return _sign_in_on_host_site(403)
    if not current_app.config["REGISTRATION_OPEN"]:
        return render_template("auth/registration_closed.html"), 403
    form = RegisterForm()
    if form.validate_on_submit():
        username = form.username.data or ""
        if User.by_username(username) is not None or User.by_identity(username) is not None:
            form.username.errors = ["That username is taken."]
        else:
            user = User.password_account(username)
            user.set_password(form.password.data or "")
            db.session.add(user)
            db.session.commit()
            start_session(user)
            publish_name(user)
            flash(f"Welcome, {username}!", "info")
            return redirect(url_for("chat.index"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/register.html", form=form), status


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    user = db.session.get(User, current_user.id)
    logout_user()
    session.clear()
    if user is not None:
        end_sessions(user)
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
