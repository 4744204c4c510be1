"""One shape for every JSON error: ``{"error": {"code": ..., "message": ...}}``."""

from __future__ import annotations

from flask import Response, abort, jsonify, request


class ApiError(Exception):
    """Raised anywhere in a JSON route; the API's error handler turns it into a response."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def json_error(status: int, code: str, message: str) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def wants_json(path: str) -> bool:
    """Routes whose clients are scripts, not people: they get JSON errors, never redirects."""
    return path.startswith(("/api/", "/stream", "/twilio/"))


def refuse_unreadable_query() -> None:
    """A ``before_request`` hook: a query string that is not UTF-8 (raw bytes no browser
    sends; percent-escapes are fine) is a 400 that says so, not the ``UnicodeDecodeError``
    werkzeug raises, as a 500, when a view first reads ``request.args``."""
    try:
        request.query_string.decode()
    except UnicodeDecodeError:
        abort(400, "The address's query is not valid UTF-8.")
