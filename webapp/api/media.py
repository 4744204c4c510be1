"""Photos and files: uploaded through Parley to Twilio's Media Content Service, and served
back through Parley to the conversation's participants only.

The browser never sees MCS, its links or Twilio's credentials, so the page's CSP keeps
``img-src 'self'``. Bytes stream through in chunks both ways (a worker holds one chunk, not a
file). Who may read a file is decided from MCS's own record of the conversation it was sent
in (``channel_sid``): that holds for files sent from the page, from phones (MMS) and from any
other client, and survives restarts without Parley keeping a copy. Who may *send* a file is
Parley's own record (:class:`~webapp.models.MediaUpload`), since MCS calls every upload's
author ``system``.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask_login import current_user, login_required

from webapp.api import bp
from webapp.api.conversations import require_member
from webapp.api.media_types import (
    ALLOWED,
    HEAD_BYTES,
    clean_filename,
    matches_label,
    shown_inline,
)
from webapp.api.uploads import record_upload, uploader_of
from webapp.errors import ApiError
from webapp.presenters import media_json
from webapp.services import Services, get_services
from webapp.twilio_gateway import GatewayError
from webapp.twilio_gateway.media import MediaResource, Readable, UploadCut, is_media_sid

#: Media never change once uploaded: a browser may keep them for a day, for this user only.
CACHE_CONTROL = "private, max-age=86400, immutable"
#: A file opened on its own (a download shown by the browser) may run nothing.
MEDIA_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


class _Prefixed:
    """The request body with its first bytes (already read to check the type) put back."""

    def __init__(self, head: bytes, rest: Readable) -> None:
        self.head = head
        self.rest = rest

    def read(self, size: int = -1) -> bytes:
        if self.head:
            head, self.head = self.head, b""
            return head
        return self.rest.read(size)


def _read_head(stream: Readable, count: int) -> bytes:
    head = b""
    while len(head) < count:
        chunk = stream.read(count - len(head))
        if not chunk:
            break
        head += chunk
    return head


@bp.url_value_preprocessor
def _files_may_be_larger(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """An upload may be ``MEDIA_MAX_BYTES``, not the API's small cap. Set here because URL
    value preprocessors run before every ``before_request`` hook, and CSRF's hook already
    opens the body's stream, whose cap is fixed when it is opened."""
    if endpoint == "api.upload_media":
        limit = get_services().config.MEDIA_MAX_BYTES
        if (request.content_length or 0) > limit:  # refused before a byte is read
            raise ApiError(413, "file_too_large", f"Files can be at most {_size(limit)}.")
        request.max_content_length = limit


@bp.post("/conversations/<sid>/media")
@login_required
def upload_media(sid: str) -> tuple[Response, int]:
    """The request body is the file, its ``Content-Type`` the file's type, and ``?filename=``
    its name; answered with the media (``sid`` to send with a message)."""
    services = get_services()
    require_member(services, sid)
    length = request.content_length
    if length is None:
        raise ApiError(411, "length_required", "Send the file with its Content-Length.")
    if length == 0:
        raise ApiError(400, "empty_file", "The file is empty.")
    content_type = request.mimetype
    if content_type not in ALLOWED:
        raise ApiError(
            415, "unsupported_file_type", f"Files of type '{content_type[:60]}' cannot be sent."
        )
    stream = request.stream
    head = _read_head(stream, min(length, HEAD_BYTES))
    if not matches_label(content_type, head):
        raise ApiError(415, "mislabelled_file", f"The file is not the {content_type} it claims.")
    filename = clean_filename(request.args.get("filename"))
    try:
        media = services.media.upload(_Prefixed(head, stream), length, content_type, filename)
    except UploadCut:
        raise ApiError(400, "upload_incomplete", "The upload was cut off; try again.") from None
    record_upload(media.sid, sid)
    return jsonify({"media": media_json(media)}), 201


@bp.get("/media/<media_sid>")
@login_required
def get_media(media_sid: str) -> Response:
    """The file's bytes, for the participants of the conversation it was sent in (and, before
    that, for whoever uploaded it); a 404 for everyone else, as for conversations."""
    services = get_services()
    media = _readable_media(services, media_sid)
    response = Response(services.media.content(media), content_type=media.content_type)
    if media.size:
        response.content_length = media.size
    disposition = "inline" if shown_inline(media.content_type) else "attachment"
    response.headers.set("Content-Disposition", disposition, filename=media.filename or media.sid)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Content-Security-Policy"] = MEDIA_CSP
    return response


def _readable_media(services: Services, media_sid: str) -> MediaResource:
    missing = ApiError(404, "not_found", "File not found.")
    if not is_media_sid(media_sid):
        raise missing
    try:
        media = services.media.fetch(media_sid)
    except GatewayError as exc:
        if exc.not_found:
            raise missing from None
        raise
    if media.conversation_sid:
        try:
            participants = services.membership.participants(media.conversation_sid)
        except GatewayError as exc:
            if exc.not_found:  # the conversation is gone
                raise missing from None
            raise
        if any(p.identity == current_user.identity for p in participants):
            return media
        raise missing
    if uploader_of(media_sid) == current_user.identity:
        return media
    raise missing


def _size(count: int) -> str:
    return f"{count / (1024 * 1024):.0f} MB" if count >= 1024 * 1024 else f"{count} bytes"
