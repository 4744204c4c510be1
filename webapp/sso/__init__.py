"""Sign-in handed over by a host site: a small Flask extension.

The host's backend signs a short-lived JWT for its logged-in user (``sub`` = the user's id,
which becomes the Twilio identity) and the browser POSTs it to ``/sso/login``; the host ends
a user's Parley sessions with a signed ``POST /sso/logout``. See the README's "Sign-in from
your site" section for the host's side.

The hook: how a verified identity becomes a user is ``SSO.user_loader`` (by default
:func:`webapp.sso.users.sign_in_host_user`). Replace it to map identities differently or to
refuse some; it gets a :class:`HostIdentity`, returns a :class:`~webapp.models.User` added to
the session (Parley commits), and raises :class:`TokenRefused` to turn the person away::

    from webapp.sso import sso

    @sso.user_loader
    def load(who: HostIdentity) -> User: ...
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import User
from webapp.names import publish_name
from webapp.services import get_services
from webapp.sso.keys import verification_key
from webapp.sso.tokens import LEEWAY_SECONDS, USED, HostIdentity, TokenRefused, TokenRules
from webapp.sso.users import sign_in_host_user

UserLoader = Callable[[HostIdentity], User]


class SSO:
    """The extension object: ``sso.init_app(app)`` in the app factory."""

    def __init__(self) -> None:
        self._load_user: UserLoader = sign_in_host_user

    def user_loader(self, loader: UserLoader) -> UserLoader:
        """Decorator: make ``loader`` turn verified identities into users."""
        self._load_user = loader
        return loader

    def init_app(self, app: Flask) -> None:
        """Always adds ``flask sso``; the routes only when a key is configured (without one,
        ``/sso/login`` does not exist rather than refusing everything)."""
        from webapp.sso.cli import sso_cli

        app.cli.add_command(sso_cli)
        config = app.config
        key = verification_key(config["PARLEY_SSO_SECRET"], config["PARLEY_SSO_PUBLIC_KEY"])
        rules = None
        if key is not None:
            rules = TokenRules(key, config["PARLEY_SSO_ISSUER"], config["PARLEY_SSO_AUDIENCE"])
            from webapp.sso.routes import register_routes

            register_routes(app)
        get_services(app).sso = SsoState(self, rules)


@dataclass(frozen=True)
class SsoState:
    """One app's sign-in hand-over: the extension (its user hook) and the token rules."""

    extension: SSO
    rules: TokenRules | None

    def load_user(self, who: HostIdentity) -> User:
        return self.extension._load_user(who)


def current_rules() -> TokenRules | None:
    """The current app's token rules; ``None`` when SSO is not configured."""
    return get_services().sso.rules


def load_user(who: HostIdentity) -> User:
    return get_services().sso.load_user(who)


def user_for(who: HostIdentity) -> User:
    """The user the hook makes of ``who``, saved, its name sent on to Twilio: what every
    sign-in from outside (a host site's token, an OpenID Connect provider) goes through, so
    none of them can forget a step. A first sign-in racing another of the same identity (two
    tabs) loses the insert; the second try finds the winner's user."""
    try:
        user = load_user(who)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        user = load_user(who)
        db.session.commit()
    publish_name(user)  # never blocks the sign-in (webapp/names/sync.py)
    return user


def accept_once(who: HostIdentity) -> None:
    """Refuse a token whose ``jti`` was seen before. Remembered (Redis ``SET NX`` through the
    broker, shared by every worker; or this process's memory) until the token could no longer
    pass ``exp`` with the clock allowance, so the store is bounded by token lifetimes. May
    raise :class:`~webapp.events.broker.BrokerUnavailable` (the caller answers 503)."""
    seconds = max(1.0, who.expires_at + LEEWAY_SECONDS - time.time())
    key = "parley:sso:jti:" + hashlib.sha256(who.jti.encode()).hexdigest()
    if not get_services().broker.claim(key, seconds):
        raise TokenRefused(USED, f"jti {who.jti[:60]!r} was already used")


sso = SSO()

__all__ = ["SSO", "HostIdentity", "SsoState", "TokenRefused", "sso"]
