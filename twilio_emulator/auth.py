"""Who is calling, as Twilio checks it: HTTP basic auth (account SID + auth token, or API key
SID + secret), or an access token in `X-Twilio-Token` as Twilio's client SDKs send it."""

from __future__ import annotations

import hmac

from flask import Flask, current_app, g, request

from twilio_emulator import access, access_tokens, errors, events
from twilio_emulator.settings import EmulatorSettings


def credentials_valid(settings: EmulatorSettings, username: str, password: str) -> bool:
    pairs = (
        (settings.account_sid, settings.auth_token),
        (settings.api_key_sid, settings.api_key_secret),
    )
    return any(
        hmac.compare_digest(username, user) and hmac.compare_digest(password, secret)
        for user, secret in pairs
    )


def _token_caller(settings: EmulatorSettings, token: str) -> access_tokens.TokenCaller:
    """Verify the token for the service in the path (or the default service)."""
    service_sid = (request.view_args or {}).get("service_sid") or settings.service_sid
    return access_tokens.verify(token, settings, service_sid)


def init_app(app: Flask) -> None:
    @app.teardown_request
    def _forget_client(_error: BaseException | None) -> None:
        reset = g.pop("emulator_client_identity", None)
        if reset is not None:
            events.CLIENT_IDENTITY.reset(reset)

    @app.before_request
    def _require_credentials() -> None:
        settings: EmulatorSettings = current_app.extensions["twilio_emulator"].settings
        token = request.headers.get(access_tokens.HEADER)
        given = request.authorization
        if token is not None and (given is None or given.type != "basic"):
            who = _token_caller(settings, token)
            g.emulator_token_caller = who
            g.emulator_client_identity = events.CLIENT_IDENTITY.set(who.identity)
            access.authorize(who)
            return
        if given is None or given.type != "basic":
            raise errors.TwilioError(
                401, errors.AUTHENTICATION_FAILED, "Authentication Error - No credentials provided"
            )
        if not credentials_valid(settings, given.username or "", given.password or ""):
            raise errors.TwilioError(
                401, errors.AUTHENTICATION_FAILED, "Authentication Error - invalid username"
            )
