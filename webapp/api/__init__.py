"""The JSON API the chat page uses. Login required; every error has one shape."""

from __future__ import annotations

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from webapp.api.validation import request_json
from webapp.errors import ApiError, json_error

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.before_request
def _refuse_bad_json() -> None:
    """A JSON body Parley cannot read is refused before any route runs (or asks Twilio)."""
    if request.is_json and request.get_data(cache=True):
        request_json()


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    return json_error(error.status, error.code, error.message)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    code = (error.name or "error").lower().replace(" ", "_")
    return json_error(error.code or 500, code, error.description or error.name)


from webapp.api import conversations, groups, message_edits, presence, typing_indicator, users  # noqa: E402,F401  (routes register on bp)
