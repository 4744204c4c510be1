"""Twilio's error shape, and the one exception every emulator failure is raised as.

Codes come from Twilio's error dictionary (https://www.twilio.com/docs/api/errors/<code>); every
50xxx code below has a page there (several are titled "Programmable Chat", which Conversations
inherits). Two choices are not documented by Twilio and are marked UNCONFIRMED: 20001 for other
malformed parameters, and the code a REST call gets when a pre-event webhook rejects it.
Which parameter gets which code is in `params.CODES`.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

MORE_INFO = "https://www.twilio.com/docs/errors/{code}"

INVALID_PARAMETER = 20001  # UNCONFIRMED for Conversations parameters without a code of their own
AUTHENTICATION_FAILED = 20003
PRE_EVENT_REJECTED = 20403  # UNCONFIRMED: Twilio's generic "403 Forbidden"
FORBIDDEN = 20403
NOT_FOUND = 20404
METHOD_NOT_ALLOWED = 20004
PAGE_SIZE_TOO_LARGE = 20007
FRIENDLY_NAME_TOO_LONG = 50003
INVALID_PRE_WEBHOOK_URL = 50077
INVALID_POST_WEBHOOK_URL = 50078
USER_EXISTS = 50201
IDENTITY_NOT_PROVIDED = 50204
IDENTITY_LOOKS_LIKE_USER_SID = 50206
IDENTITY_TOO_LONG = 50207
IDENTITY_WITH_BINDING = 50211
ATTRIBUTES_TOO_LONG = 50303
ATTRIBUTES_NOT_JSON = 50304
INVALID_MESSAGING_SERVICE_SID = 50341
UNIQUE_NAME_EXISTS = 50353
WEBHOOK_NOT_FOUND = 50360
TOO_MANY_WEBHOOKS = 50361
TOO_MANY_WEBHOOK_TRIGGERS = 50362
INVALID_WEBHOOK_SID = 50363
INVALID_WEBHOOK_TARGET = 50364
INVALID_WEBHOOK_FILTER = 50365
INVALID_WEBHOOK_TRIGGER = 50366
WEBHOOK_TARGET_MISSING = 50368
WEBHOOK_URL_MISSING = 50369
WEBHOOK_FILTERS_MISSING = 50370
WEBHOOK_TRIGGERS_MISSING = 50371
WEBHOOK_URL_TOO_LONG = 50372
TIMER_INACTIVE_TOO_SHORT = 50375
TIMER_CLOSED_TOO_SHORT = 50376
TIMER_INACTIVE_INVALID = 50379
TIMER_CLOSED_INVALID = 50380
UNIQUE_NAME_LOOKS_LIKE_SID = 50390
INVALID_BINDING_ADDRESS = 50407
INVALID_PROXY_ADDRESS = 50408
ADDRESS_EQUALS_PROXY = 50409
BINDING_PAIR_IN_USE = 50416
PARTICIPANTS_LIMIT = 50417
NON_CHAT_PARTICIPANTS_LIMIT = 50422
PARTICIPANT_EXISTS = 50433
NO_PROXY_ADDRESS = 50440
NO_PROJECTED_ADDRESS = 50442
PROJECTED_WITH_BINDING = 50443
IDENTITY_AND_ADDRESS = 50451
MESSAGE_BODY_TOO_LONG = 50504
MEDIA_NOT_FOUND = 50507
MEDIA_ALREADY_SENT = 50508
INVALID_MEDIA_SID = 50510
INVALID_CONTENT_SID = 50526
CONTENT_SID_MISSING = 50528
CONTENT_NOT_FOUND = 21655
INVALID_UPLOAD_CONTENT_TYPE = 12301  # UNCONFIRMED for MCS: the error dictionary's upload code
UPLOAD_TOO_LARGE = 20001  # UNCONFIRMED: MCS's code for a file over 150 MB is not documented

# Delivery receipt codes (Twilio's messaging error dictionary), for phones the emulator fails.
SMS_BODY_TOO_LONG = 21617  # "The concatenated message body exceeds the 1600 character limit"
MMS_TOO_LARGE = 30019  # UNCONFIRMED as a receipt code: "Content size exceeds carrier limit"
MMS_CONTENT_REJECTED = 63021  # UNCONFIRMED as a receipt code: "Channel invalid content error"


class TwilioError(Exception):
    """A failed request, answered with Twilio's error JSON and HTTP status."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": MORE_INFO.format(code=self.code),
            "status": self.status,
        }


def bad_request(code: int, message: str) -> TwilioError:
    return TwilioError(400, code, message)


def conflict(code: int, message: str) -> TwilioError:
    return TwilioError(409, code, message)


def not_found(path: str) -> TwilioError:
    """Twilio names the missing resource by its path below `/v1`, e.g. `/Conversations/CHxx`."""
    path = path.removeprefix("/v1")
    return TwilioError(404, NOT_FOUND, f"The requested resource {path} was not found")


def error_response(error: TwilioError) -> Response:
    response = jsonify(error.to_json())
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
    return response


def init_app(app: Flask) -> None:
    """Answer emulator errors, and werkzeug's own (unknown route, wrong method), in Twilio's
    shape so the `twilio` library raises `TwilioRestException` for all of them."""

    @app.errorhandler(TwilioError)
    def _twilio_error(error: TwilioError) -> Response:
        if error.code == NOT_FOUND and not error.message:
            error = not_found(request.path)
        return error_response(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        if status == 404:
            return error_response(not_found(request.path))
        code = METHOD_NOT_ALLOWED if status == 405 else INVALID_PARAMETER
        return error_response(TwilioError(status, code, error.description or error.name))
