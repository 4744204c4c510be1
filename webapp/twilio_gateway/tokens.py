"""Twilio access tokens for clients that use Twilio's own SDKs (browser, iOS, Android)."""

from __future__ import annotations

from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import ChatGrant

from webapp.config import Config

#: One hour; SDK clients refresh before expiry (Twilio allows up to 24 h).
DEFAULT_TOKEN_TTL = 3600


def issue_access_token(config: Config, identity: str, ttl: int = DEFAULT_TOKEN_TTL) -> str:
    """A signed JWT with a ChatGrant for Parley's Conversations service, for ``identity`` only."""
    token = AccessToken(
        config.TWILIO_ACCOUNT_SID,
        config.TWILIO_API_KEY_SID,
        config.TWILIO_API_KEY_SECRET,
        identity=identity,
        ttl=ttl,
    )
    token.add_grant(ChatGrant(service_sid=config.TWILIO_CONVERSATIONS_SERVICE_SID))
    jwt = token.to_jwt()
    return jwt.decode() if isinstance(jwt, bytes) else jwt
