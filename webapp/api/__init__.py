"""The JSON API the chat page uses. Login required; every error has one shape, said here:
routes raise :class:`~webapp.errors.ApiError` for what they refuse and let Twilio's failures
(:class:`~webapp.twilio_gateway.GatewayError`) rise to the handler below."""

from __future__ import annotations

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from webapp.api.validation import request_json
from webapp.errors import ApiError, json_error
from webapp.twilio_gateway import UNREACHABLE, GatewayError

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.before_request
def _refuse_bad_json() -> None:
    """A JSON body Parley cannot read is refused before any route runs (or asks Twilio)."""
    if request.is_json and request.get_data(cache=True):
        request_json()


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    return json_error(error.status, error.code, error.message)


@bp.errorhandler(GatewayError)
def _gateway_error(error: GatewayError) -> Response:
    """Twilio's 404 is the conversation's (a route that means another resource says so
    itself); its other refusals keep their status; no answer at all is a 503, since a retry
    soon may work, and Twilio's own failure a 502."""
    if error.not_found:
        return json_error(404, "not_found", "Conversation not found.")
    if error.status >= 500:
        status = 503 if error.status == UNREACHABLE else 502
        return json_error(status, "twilio_unavailable", "Twilio could not be reached; try again.")
    return json_error(error.status, "twilio_error", error.message)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    code = (error.name or "error").lower().replace(" ", "_")
    return json_error(error.code or 500, code, error.description or error.name)


from webapp.api import (  # noqa: E402,F401  (routes register on bp)
    conversations,
    deliveries,
    groups,
    media,
    message_edits,
    mutes,
    presence,
    typing_indicator,
    users,
)
