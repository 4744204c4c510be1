"""Logging: one line per request with a request id, JSON in production, never a secret.

Every record logged while a request is handled carries that request's id, so the webhook's
and the stream's own lines can be matched to the request line. The id is the incoming
``X-Request-Id`` (Heroku's router sets one) when it looks sane, else a fresh one, and is
echoed in the response.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import IO
from urllib.parse import urlsplit

from flask import Flask, Response, g, has_request_context, request

from webapp.config import Config

log = logging.getLogger("webapp.request")

REQUEST_ID_HEADER = "X-Request-Id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")
_HANDLER_NAME = "parley"
#: Standard ``LogRecord`` attributes; anything else on a record came from ``extra=``.
_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}
REDACTED = "[redacted]"
#: The id of a request served outside Flask's request cycle (the webhook's fast path, see
#: ``webapp/webhooks/fast_path.py``); Flask's own requests keep theirs in ``g``.
_BARE_REQUEST_ID: ContextVar[str | None] = ContextVar("parley_request_id", default=None)


def current_request_id() -> str | None:
    bare = _BARE_REQUEST_ID.get()
    if bare is not None:
        return bare
    return g.get("request_id") if has_request_context() else None


def request_id_for(incoming: str | None) -> str:
    """The incoming ``X-Request-Id`` when it looks sane, else a fresh id."""
    if incoming and _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def bind_request_id(request_id: str | None) -> Token[str | None]:
    """Stamp records logged from now on (in this greenlet) with ``request_id``, for a request
    served without Flask's request context; returns the token :func:`unbind_request_id` takes."""
    return _BARE_REQUEST_ID.set(request_id)


def unbind_request_id(token: Token[str | None]) -> None:
    _BARE_REQUEST_ID.reset(token)


def log_request(
    method: str, path: str, status: int, started: float | None, detail: str = "", **fields: object
) -> None:
    """The one line per request: method, path (never the query), status, duration, plus
    ``detail`` (e.g. a webhook's outcome) and ``fields`` (extra JSON fields) when given."""
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
    log.info(
        "%s %s %s %sms%s",
        method,
        path,
        status,
        duration_ms,
        f" {detail}" if detail else "",
        extra={
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            **fields,
        },
    )


def describe_request(detail: str, **fields: object) -> None:
    """Add ``detail`` and ``fields`` to the current Flask request's log line."""
    g.request_log_detail = (detail, fields)


class RequestContextFilter(logging.Filter):
    """Stamps each record with the current request id ('-' outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


class RedactingFormatter(logging.Formatter):
    """Replaces any configured secret in the finished line, whatever logged it."""

    def __init__(self, secrets: Iterable[str | None], fmt: str | None = None) -> None:
        super().__init__(fmt)
        # Short values would redact ordinary words; real secrets are long.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)
        self._last_second = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        """Logging's own ``asctime``, its part to the second made once a second (each request
        logs a line, and ``strftime`` is a third of formatting one)."""
        if datefmt is not None or self.default_msec_format is None:
            return super().formatTime(record, datefmt)
        second, text = self._last_second
        if int(record.created) != second:
            second = int(record.created)
            text = time.strftime(self.default_time_format, self.converter(second))
            self._last_second = (second, text)
        return self.default_msec_format % (text, record.msecs)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(RedactingFormatter):
    """One JSON object per line: what log platforms parse without configuration."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        entry.update(
            (key, value) for key, value in vars(record).items() if key not in _RECORD_FIELDS
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(entry, default=str))


def configure_logging(config: Config, stream: IO[str] | None = None) -> logging.Handler:
    """Install Parley's handler on the root logger (replacing the one a previous app in
    this process installed) and return it."""
    secrets = (
        config.TWILIO_AUTH_TOKEN,
        config.TWILIO_API_KEY_SECRET,
        config.SECRET_KEY,
        config.METRICS_TOKEN,
        urlsplit(config.REDIS_URL or "").password,
        urlsplit(config.SQLALCHEMY_DATABASE_URI).password,
    )
    # No format shows a thread, and under gevent finding one is costly: a request's greenlet
    # gets a dummy Thread made for it on its first record (about 13 us).
    logging.logThreads = False
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RequestContextFilter())
    if config.LOG_FORMAT == "json":
        handler.setFormatter(JsonFormatter(secrets))
    else:
        fmt = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
        handler.setFormatter(RedactingFormatter(secrets, fmt))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # The twilio library logs every request's headers at INFO: too loud, and no use here.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    return handler


def init_request_logging(app: Flask) -> None:
    """One line per request: method, path (never the query), status, duration, request id."""

    def _start() -> None:
        g.request_id = request_id_for(request.headers.get(REQUEST_ID_HEADER))
        g.request_started = time.perf_counter()

    # First of all: the CSRF check and the login limiter refuse requests in before-request
    # functions registered earlier, and those refusals need their id and duration too.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = request_id
        detail, fields = g.get("request_log_detail") or ("", {})
        log_request(
            request.method,
            request.path,
            response.status_code,
            g.get("request_started"),
            detail,
            **fields,
        )
        return response
