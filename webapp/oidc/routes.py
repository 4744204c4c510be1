"""``GET /oidc/login`` (off to the provider) and ``GET /oidc/callback`` (back, signed in).

Every refusal (a ``state`` this browser did not start, a code already used, an ID token from
another issuer, an identity taken by a password account) is a readable 401 page, the exact
reason in the log; a provider that cannot be reached is a 503 page. Never a 500.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from joserfc.errors import JoseError

from webapp.auth.routes import safe_next
from webapp.auth.sessions import start_session
from webapp.events.broker import BrokerUnavailable
from webapp.models import is_valid_identity
from webapp.oidc import LEEWAY_SECONDS, provider
from webapp.sso import HostIdentity, TokenRefused, user_for
from webapp.sso.tokens import clean_display_name

log = logging.getLogger(__name__)

bp = Blueprint("oidc", __name__, url_prefix="/oidc")

NEXT_KEY = "oidc_next"
REFUSED = "The sign-in with {provider} did not work. Try again."
NOT_THIS_ACCOUNT = "Your {provider} account cannot sign in to Parley; ask whoever runs Parley."
UNREACHABLE = "{provider} could not be reached just now. Try again in a moment."


class Refused(Exception):
    """A sign-in to turn away: ``detail`` goes to the log, never to the page."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _page(message: str, status: int) -> Response:
    name = current_app.config["PARLEY_OIDC_NAME"]
    page = render_template(
        "sso/refused.html",
        reason=message.format(provider=name),
        again_url=url_for("oidc.login"),
        again_label=f"Sign in with {name}",
    )
    return Response(page, status=status)


def _issuer() -> str:
    issuer: str = current_app.config["PARLEY_OIDC_ISSUER"]
    return issuer


@bp.get("/login")
def login() -> ResponseReturnValue:
    """Off to the provider, with a fresh ``state``, ``nonce`` and PKCE verifier kept in the
    session (Authlib) and where to land afterwards."""
    client = provider()
    try:
        metadata = client.load_server_metadata()
        found = metadata.get("issuer") if isinstance(metadata, dict) else None
        if found != _issuer():
            # Discovery must name the configured issuer (OpenID Connect Discovery 4.3).
            raise Refused(f"discovery names issuer {str(found)[:80]!r}")
    except Refused as refusal:
        log.warning("oidc login refused: %s", refusal.detail)
        return _page(REFUSED, 401)
    except (requests.RequestException, ValueError) as exc:
        log.warning("oidc discovery failed: %s", exc)
        return _page(UNREACHABLE, 503)
    session[NEXT_KEY] = safe_next(request.args.get("next"))
    return client.authorize_redirect(current_app.config["PUBLIC_BASE_URL"] + "/oidc/callback")


@bp.get("/callback")
def callback() -> ResponseReturnValue:
    """The provider sends the browser back here with a code: exchange it, check the ID
    token, sign the person in with a fresh session."""
    try:
        who = _identity(_claims())
        user = user_for(who)
    except Refused as refusal:
        log.warning("oidc login refused: %s", refusal.detail)
        return _page(REFUSED, 401)
    except TokenRefused as refusal:  # the user hook's (webapp.sso) word, worded for a host site
        log.warning("oidc login refused: %s", refusal.detail)
        return _page(NOT_THIS_ACCOUNT, 401)
    except requests.RequestException as exc:
        log.warning("oidc token exchange failed: %s", exc)
        return _page(UNREACHABLE, 503)
    except BrokerUnavailable:
        return _page(UNREACHABLE, 503)
    next_path = session.get(NEXT_KEY)
    start_session(user)  # clears the session: the state, the verifier and NEXT_KEY go too
    log.info("oidc login of user %s", user.id)
    return redirect(safe_next(next_path))


def _claims() -> dict[str, Any]:
    """The ID token's claims, checked; the userinfo endpoint's when the ID token has no name
    (providers may keep profile claims out of the ID token)."""
    issuer = _issuer()
    returned_issuer = request.args.get("iss")
    if returned_issuer is not None and returned_issuer != issuer:
        # RFC 9207: a response from another provider (the mix-up attack).
        raise Refused(f"the response names issuer {returned_issuer[:80]!r}")
    client = provider()
    try:
        token = client.authorize_access_token(
            claims_options={"iss": {"essential": True, "values": [issuer]}}, leeway=LEEWAY_SECONDS
        )
    except (AuthlibBaseError, JoseError) as exc:
        raise Refused(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    claims = token.get("userinfo")
    if not claims:
        raise Refused("no ID token in the token response")
    claims = dict(claims)
    if "name" not in claims and "preferred_username" not in claims:
        try:
            profile = dict(client.userinfo(token=token))
        except (AuthlibBaseError, JoseError, ValueError) as exc:
            raise Refused(f"userinfo: {type(exc).__name__}: {str(exc)[:200]}") from None
        if profile.get("sub") == claims["sub"]:  # OpenID Connect Core 5.3.2
            claims.update({k: profile[k] for k in ("name", "preferred_username") if k in profile})
    return claims


def _identity(claims: dict[str, Any]) -> HostIdentity:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not is_valid_identity(sub):
        raise Refused(f"'sub' is not an identity Twilio accepts: {str(sub)[:60]!r}")
    name = claims.get("name") or claims.get("preferred_username")
    try:
        display_name = clean_display_name(name if isinstance(name, str) else None)
    except TokenRefused as refusal:
        raise Refused(refusal.detail) from None
    return HostIdentity(
        identity=sub,
        jti=str(claims.get("nonce", "")),
        expires_at=float(claims.get("exp", 0)),
        display_name=display_name,
    )
