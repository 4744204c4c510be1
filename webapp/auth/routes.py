"""Session login with flask-login; passwords hashed with werkzeug."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user

from webapp.auth.forms import LoginForm, RegisterForm
from webapp.events.broker import BrokerUnavailable
from webapp.extensions import db
from webapp.models import User
from webapp.services import get_services

bp = Blueprint("auth", __name__)

#: One message for unknown user and wrong password: it does not tell which usernames exist.
INVALID_LOGIN = "Invalid username or password."


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so ``?next=`` cannot send people to another site."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.netloc and not parts.scheme:
            return target
    return url_for("chat.index")


def _demo_hint() -> str | None:
    config = get_services().config
    return None if config.LIVE_TWILIO else "Demo users: alice, bob and carol."


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("chat.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = User.by_username(form.username.data or "")
        if user is not None and user.check_password(form.password.data or ""):
            session.clear()  # a fresh session at login (no fixation)
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
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


@bp.route("/register", methods=["GET", "POST"])
def register() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("chat.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        username = form.username.data or ""
        if User.by_username(username) is not None:
            form.username.errors = ["That username is taken."]
        else:
            user = User(username=username)
            user.set_password(form.password.data or "")
            db.session.add(user)
            db.session.commit()
            session.clear()
            login_user(user)
            flash(f"Welcome, {username}!", "info")
            return redirect(url_for("chat.index"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/register.html", form=form), status


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    identity = current_user.identity
    logout_user()
    session.clear()
    try:
        get_services().broker.close_user_streams(identity)
    except BrokerUnavailable:
        pass  # the streams end at their next read of the session anyway
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
