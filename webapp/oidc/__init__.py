"""Sign in with an OpenID Connect provider ("Sign in with …"): the authorization code flow
with PKCE (S256), through Authlib.

Discovery reads ``<issuer>/.well-known/openid-configuration``; the ID token's signature
(the provider's published keys), ``iss``, ``aud``, ``exp`` and ``nonce`` are checked by
Authlib, and ``state`` ties the callback to the browser that started the sign-in. The person
becomes a user through the same hook as a host site's hand-over (``webapp.sso``): the ID
token's ``sub`` is the identity, ``name`` (else ``preferred_username``) the name shown.
"""

from __future__ import annotations

from authlib.integrations.flask_client import OAuth
from authlib.integrations.flask_client.apps import FlaskOAuth2App
from flask import Flask, current_app

from webapp.config import Config

#: How much the provider's clock may differ from Parley's (as for host tokens).
LEEWAY_SECONDS = 30


def init_oidc(app: Flask, config: Config) -> None:
    """Register the provider and the ``/oidc`` routes when ``PARLEY_OIDC_ISSUER`` is set."""
    if not config.oidc_enabled:
        return
    assert config.PARLEY_OIDC_ISSUER is not None
    # One registry per app: Authlib caches clients by name, and tests build several apps.
    oauth = OAuth(app)
    oauth.register(
        "provider",
        client_id=config.PARLEY_OIDC_CLIENT_ID,
        client_secret=config.PARLEY_OIDC_CLIENT_SECRET,
        server_metadata_url=config.PARLEY_OIDC_ISSUER.rstrip("/")
        + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile", "code_challenge_method": "S256", "timeout": 10},
    )
    app.extensions["parley_oidc"] = oauth

    from webapp.oidc.routes import bp

    app.register_blueprint(bp)


def provider() -> FlaskOAuth2App:
    client: FlaskOAuth2App = current_app.extensions["parley_oidc"].create_client("provider")
    return client
