"""HTTP basic auth as Twilio checks it: account SID + auth token, or API key SID + secret."""

from __future__ import annotations

import hmac

from flask import Flask, current_app, request

from webapp.emulator import errors
from webapp.emulator.settings import EmulatorSettings


def credentials_valid(settings: EmulatorSettings, username: str, password: str) -> bool:
    pairs = (
        (settings.account_sid, settings.auth_token),
        (settings.api_key_sid, settings.api_key_secret),
    )
    return any(
        hmac.compare_digest(username, user) and hmac.compare_digest(password, secret)
        for user, secret in pairs
    )


def init_app(app: Flask) -> None:
    @app.before_request
    def _require_credentials() -> None:
        settings: EmulatorSettings = current_app.extensions["twilio_emulator"].settings
        given = request.authorization
        if given is None or given.type != "basic":
            raise errors.TwilioError(
                401, errors.AUTHENTICATION_FAILED, "Authentication Error - No credentials provided"
            )
        if not credentials_valid(settings, given.username or "", given.password or ""):
            raise errors.TwilioError(
                401, errors.AUTHENTICATION_FAILED, "Authentication Error - invalid username"
            )
