"""Twilio's Media Content Service (MCS), the host `https://mcs.us1.twilio.com` where chat
media lives: upload a file, read its record, download its bytes.

A WSGI app of its own, because on Twilio it is another host with its own rules (no
Conversations parameters, a much larger body limit, a download link that needs no
credentials); `create_emulator_app` mounts it at `/mcs`, sharing the emulator's state. Its
answers follow Twilio's "Conversations Media Resource" page, written down as
`mcs_openapi.yaml` and checked against it in the tests.

Uploads are copied to disk in chunks as they arrive (`media_files`), never held whole in
memory; multipart bodies go through werkzeug's form parser, which spools files to disk too.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_file

from twilio_emulator import auth, errors, sids
from twilio_emulator.media_files import TooLarge
from twilio_emulator.records import Media, utcnow
from twilio_emulator.resources import rest_date
from twilio_emulator.state import EmulatorState

MOUNT_PATH = "/mcs"
#: Its answers' schema, written from Twilio's docs (Twilio publishes none for MCS).
SPEC_PATH = Path(__file__).parent / "mcs_openapi.yaml"
#: Room for a multipart body's boundaries and headers around a file of the maximum size.
MULTIPART_SLACK = 64 * 1024
#: `links.content_direct_temporary` stands for Twilio's signed CDN URL; this path serves it.
TEMPORARY_PATH = "/temporary"

bp = Blueprint("twilio_mcs", __name__)


def create_mcs_app(state: EmulatorState) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = state.settings.media_max_bytes + MULTIPART_SLACK
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["twilio_emulator"] = state
    errors.init_app(app)
    app.register_blueprint(bp)
    return app


def _state() -> EmulatorState:
    state: EmulatorState = current_app.extensions["twilio_emulator"]
    return state


@bp.before_request
def _require_credentials() -> None:
    """Basic auth, as on Twilio; the temporary link carries its own signature instead.
    (`X-Twilio-Token`, which Twilio's SDKs send to MCS, is not emulated here.)"""
    if request.endpoint == "twilio_mcs.temporary_content":
        return
    given = request.authorization
    settings = _state().settings
    if given is None or given.type != "basic":
        raise errors.TwilioError(
            401, errors.AUTHENTICATION_FAILED, "Authentication Error - No credentials provided"
        )
    if not auth.credentials_valid(settings, given.username or "", given.password or ""):
        raise errors.TwilioError(
            401, errors.AUTHENTICATION_FAILED, "Authentication Error - invalid username"
        )


@bp.post("/v1/Services/<service_sid>/Media")
def upload(service_sid: str) -> Response:
    """Raw bytes with their `Content-Type`, or multipart with the file in `Media` and its
    name in `FileName`."""
    state = _state()
    state.store.get_service(service_sid)  # 404 before any byte is written
    if request.mimetype == "multipart/form-data":
        part = request.files.get("Media")
        if part is None:
            raise errors.bad_request(errors.INVALID_PARAMETER, "The Media file part is missing")
        filename = request.form.get("FileName") or part.filename or None
        # A part without a type is plain bytes, as browsers send an unknown file.
        content_type, source = part.mimetype or "application/octet-stream", part.stream
    else:
        filename, content_type, source = None, request.mimetype, request.stream
    if not content_type:
        raise errors.bad_request(
            errors.INVALID_UPLOAD_CONTENT_TYPE, "The upload needs a Content-Type"
        )
    sid = sids.new_sid(sids.MEDIA)
    limit = state.settings.media_max_bytes
    try:
        size = state.media_files.save(sid, source, limit)
    except TooLarge:
        raise errors.TwilioError(
            413, errors.UPLOAD_TOO_LARGE, f"Media must not exceed {limit} bytes"
        ) from None
    if size == 0:
        state.media_files.discard(sid)
        raise errors.bad_request(errors.INVALID_PARAMETER, "The upload has no content")
    now = utcnow()
    record = Media(sid, service_sid, size, content_type, filename, "system", now, now)
    try:
        record = state.store.add_media(record)
    except errors.TwilioError:  # the service went away meanwhile
        state.media_files.discard(sid)
        raise
    response = jsonify(media_json(record))
    response.status_code = 201
    return response


@bp.get("/v1/Services/<service_sid>/Media/<sid>")
def fetch(service_sid: str, sid: str) -> Response:
    return jsonify(media_json(_state().store.get_media(service_sid, sid)))


@bp.delete("/v1/Services/<service_sid>/Media/<sid>")
def delete(service_sid: str, sid: str) -> Response:
    """204 with no body, as Twilio's REST deletes answer; the bytes go with the record."""
    state = _state()
    state.store.remove_media(service_sid, sid)
    state.media_files.discard(sid)
    return Response(status=204)


@bp.get("/v1/Services/<service_sid>/Media/<sid>/Content")
def content(service_sid: str, sid: str) -> Response:
    return _send(_state().store.get_media(service_sid, sid))


@bp.get(f"{TEMPORARY_PATH}/<sid>")
def temporary_content(sid: str) -> Response:
    """The signed link: no credentials, refused once `Expires` has passed or if altered."""
    state = _state()
    expires = request.args.get("Expires", "")
    given = request.args.get("Signature", "")
    wanted = _signature(state.settings.auth_token, sid, expires)
    if not (expires.isdigit() and hmac.compare_digest(given, wanted)):
        raise errors.TwilioError(403, errors.FORBIDDEN, "The link is not valid")
    if int(expires) < time.time():
        raise errors.TwilioError(403, errors.FORBIDDEN, "The link has expired")
    return _send(state.store.find_media(sid))


def _send(media: Media) -> Response:
    path = _state().media_files.path(media.sid)
    response = send_file(path, mimetype=media.content_type, conditional=True, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _signature(secret: str, sid: str, expires: str) -> str:
    return hmac.new(secret.encode(), f"{sid}:{expires}".encode(), hashlib.sha256).hexdigest()


def temporary_link(media: Media) -> str:
    """A signed URL that serves the bytes without credentials until it expires."""
    state = _state()
    origin = state.settings.mcs_url or (request.host_url.rstrip("/") + request.script_root)
    expires = str(int(time.time() + state.settings.media_link_lifetime))
    signature = _signature(state.settings.auth_token, media.sid, expires)
    query = f"Expires={expires}&Signature={signature}"
    return f"{origin.rstrip('/')}{TEMPORARY_PATH}/{media.sid}?{query}"


def media_json(media: Media) -> dict[str, object]:
    """The Media resource as Twilio's page lists it; `url` and `links.content` are paths on
    the MCS host, as in Twilio's examples."""
    url = f"/v1/Services/{media.service_sid}/Media/{media.sid}"
    return {
        "sid": media.sid,
        "account_sid": _state().settings.account_sid,
        "service_sid": media.service_sid,
        "date_created": rest_date(media.date_created),
        "date_updated": rest_date(media.date_updated),
        "date_upload_updated": rest_date(media.date_created),
        "channel_sid": media.conversation_sid,
        "message_sid": media.message_sid,
        "size": media.size,
        "content_type": media.content_type,
        "filename": media.filename,
        "author": media.author,
        "category": "media",
        "url": url,
        "is_multipart_upstream": False,
        "links": {"content": f"{url}/Content", "content_direct_temporary": temporary_link(media)},
    }
