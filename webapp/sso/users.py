"""How a verified host identity becomes a Parley user: the default ``SSO.user_loader``."""

from __future__ import annotations

from webapp.extensions import db
from webapp.models import User
from webapp.sso.tokens import HostIdentity, TokenRefused

TAKEN = "This account cannot be signed in from your site; ask whoever runs Parley."


def sign_in_host_user(who: HostIdentity) -> User:
    """The user with this identity, created at the first sign-in and renamed when the host
    sends a new name. A password account with the same identity is never taken over: the host
    names its own users, not Parley's (``flask users create``) ones."""
    user = User.by_identity(who.identity)
    if user is None:
        user = User(identity=who.identity, password_hash="", display_name=who.display_name)
        db.session.add(user)
    elif user.has_password:
        raise TokenRefused(TAKEN, f"identity {who.identity!r} is a password account's")
    elif who.display_name is not None:
        user.display_name = who.display_name
    return user
