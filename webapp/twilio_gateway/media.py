"""Twilio's Media Content Service (MCS): where photos and files live, on a host of its own
that the ``twilio`` library does not wrap, so this seam speaks its small REST API itself.

Bytes are streamed both ways, never held whole: an upload is sent as one multipart body read
chunk by chunk from the caller's stream (its length known in advance, so MCS gets a
``Content-Length`` as Twilio's examples send), and content is read through the temporary link
chunk by chunk. Failures become :class:`~.errors.GatewayError` as the REST client's do, and
every wait is capped by the request's deadline (:mod:`webapp.deadline`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import requests

from webapp import deadline
from webapp.config import Config
from webapp.twilio_gateway.client import IDLE_LIMIT, TWILIO_TIMEOUT, mount_idle_limited
from webapp.twilio_gateway.errors import UNREACHABLE, GatewayError

#: Bytes read (from the browser) and sent (to MCS) at a time.
CHUNK = 64 * 1024
_MEDIA_SID = re.compile(r"ME[0-9a-f]{32}")


def is_media_sid(value: str) -> bool:
    """Cheap check before an MCS round trip: anything else cannot name a media."""
    return bool(_MEDIA_SID.fullmatch(value))


class Readable(Protocol):
    """Where an upload's bytes come from: a request body, a file."""

    def read(self, size: int = -1, /) -> bytes: ...


class UploadCut(Exception):
    """The caller's stream ended (or failed) before the length it announced."""


@dataclass(frozen=True)
class MediaResource:
    """What Parley uses of MCS's Media resource."""

    sid: str
    filename: str | None
    content_type: str
    size: int
    #: The conversation and message it is attached to; ``None`` until a message takes it.
    conversation_sid: str | None
    message_sid: str | None
    content_link: str | None
    temporary_link: str | None


def _resource(data: dict[str, Any]) -> MediaResource:
    links = data.get("links")
    links = links if isinstance(links, dict) else {}
    return MediaResource(
        sid=str(data["sid"]),
        filename=data.get("filename"),
        content_type=str(data.get("content_type") or "application/octet-stream"),
        size=int(data.get("size") or 0),
        conversation_sid=data.get("channel_sid"),
        message_sid=data.get("message_sid"),
        content_link=links.get("content"),
        temporary_link=links.get("content_direct_temporary"),
    )


class _MultipartBody:
    """A ``multipart/form-data`` body (``FileName``, then the file in ``Media``) read lazily
    from ``source``. Its ``__len__`` lets ``requests`` send a ``Content-Length`` and stream
    the body through ``read`` instead of loading it; a source that ends early raises
    :class:`UploadCut`, which aborts the request so MCS keeps nothing."""

    def __init__(
        self, source: Readable, length: int, content_type: str, filename: str | None
    ) -> None:
        boundary = uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={boundary}"
        name = quote(filename or "file", safe=" ._-()")
        head = b""
        if filename:
            head += (
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="FileName"\r\n\r\n'
                ).encode()
                + filename.encode()
                + b"\r\n"
            )
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="Media"; '
            f'filename="{name}"\r\nContent-Type: {content_type}\r\n\r\n'
        ).encode()
        self._parts: list[bytes] = [head]
        self._tail = f"\r\n--{boundary}--\r\n".encode()
        self._source = source
        self._remaining = length
        self._length = len(head) + length + len(self._tail)

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        if self._parts:
            return self._parts.pop(0)
        if self._remaining > 0:
            try:
                chunk = self._source.read(min(CHUNK, self._remaining))
            except Exception as exc:  # the client went away mid-upload
                raise UploadCut("the upload ended early") from exc
            if not chunk:
                raise UploadCut("the upload ended early")
            self._remaining -= len(chunk)
            return chunk
        tail, self._tail = self._tail, b""
        return tail


class MediaGateway:
    """Parley's view of one service's media in MCS. Raises :class:`GatewayError`."""

    def __init__(self, config: Config, idle_limit: float = IDLE_LIMIT) -> None:
        self.origin = config.mcs_url
        self.base = f"{self.origin}/v1/Services/{config.TWILIO_CONVERSATIONS_SERVICE_SID}"
        self.auth = (config.TWILIO_ACCOUNT_SID, config.TWILIO_AUTH_TOKEN)
        self.session = requests.Session()
        # An upload is read from the browser once and never sent again: a connection left
        # unused for ``idle_limit`` seconds is not used again, so that an upload does not go
        # out on one the far side is closing (gunicorn's keep-alive is 5 s; see IDLE_LIMIT).
        mount_idle_limited(self.session, idle_limit)

    def upload(
        self, source: Readable, length: int, content_type: str, filename: str | None
    ) -> MediaResource:
        """Stream ``length`` bytes from ``source`` to MCS; :class:`UploadCut` if it ends early.

        Never resent: the source is read once.
        """
        body = _MultipartBody(source, length, content_type, filename)
        headers = {"Content-Type": body.content_type}
        response = self._call("POST", self.base + "/Media", data=body, headers=headers)
        return _resource(response.json())

    def fetch(self, sid: str) -> MediaResource:
        return _resource(self._call("GET", f"{self.base}/Media/{sid}").json())

    def delete(self, sid: str) -> None:
        """Delete a file from MCS (its bytes too); a :class:`GatewayError` with ``not_found``
        when MCS has no such file."""
        self._call("DELETE", f"{self.base}/Media/{sid}").close()

    def content(self, media: MediaResource) -> Iterator[bytes]:
        """The media's bytes, chunk by chunk, through its temporary link (a signed URL on
        another host, fetched without credentials) or, failing that, the ``content`` link
        (with them; ``requests`` drops them if Twilio redirects elsewhere)."""
        if media.temporary_link and re.match(r"https?://", media.temporary_link):
            response = self._call("GET", media.temporary_link, stream=True, auth=None)
        else:
            link = media.content_link or f"{self.base}/Media/{media.sid}/Content"
            url = self.origin + link if link.startswith("/") else link  # a path on the MCS host
            response = self._call("GET", url, stream=True, allow_redirects=True)
        return _chunks(response)

    def _call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        deadline.check()
        kwargs.setdefault("auth", self.auth)
        kwargs.setdefault("allow_redirects", False)
        try:
            response = self.session.request(
                method, url, timeout=deadline.capped(TWILIO_TIMEOUT), **kwargs
            )
        except UploadCut:
            raise
        except requests.RequestException as exc:
            if isinstance(exc.__context__, UploadCut):
                raise exc.__context__ from None
            if deadline.expired():
                raise deadline.DeadlineExceeded("Twilio did not answer in time") from exc
            raise GatewayError(f"no answer ({type(exc).__name__})", UNREACHABLE) from exc
        if response.status_code >= 400:
            raise _refusal(response)
        return response


def _refusal(response: requests.Response) -> GatewayError:
    """MCS's error JSON as the REST client's refusals are raised: a 4xx keeps its status and
    code, anything else is Twilio's own failure (502)."""
    try:
        error = response.json()
    except ValueError:
        error = {}
    error = error if isinstance(error, dict) else {}
    status = response.status_code if 400 <= response.status_code < 500 else 502
    message = error.get("message")
    code = error.get("code")
    response.close()
    return GatewayError(
        message if isinstance(message, str) else "Twilio refused the request.",
        status,
        code if isinstance(code, int) else None,
    )


def _chunks(response: requests.Response) -> Iterator[bytes]:
    try:
        yield from response.iter_content(CHUNK)
    finally:
        response.close()
