"""The lean WSGI path for ``POST /twilio/webhook``: Twilio's events without Flask's request cycle.

Why it exists: webhook intake is CPU-bound on one gevent worker, and Flask's request set-up,
hooks and teardown cost about as much as the webhook's own work (``docs/benchmarks.md``,
"Round 2": "Where the time goes now" and "What is left"). This middleware serves the requests
Twilio sends — ``POST``, form-encoded, with a ``Content-Length`` within the app's limit — by
calling the same :func:`~webapp.webhooks.handler.handle_webhook` as the blueprint route, and
gives them what Flask's cycle would: the request id (incoming ``X-Request-Id`` kept when sane,
echoed in the response and on every line logged meanwhile), the one request log line, the
security headers. Everything else, including any other shape of request to the webhook's path
(multipart, chunked, too large, an untrusted host), goes to Flask untouched, so Flask's own
answers and JSON errors stay the only ones.

No app context is pushed: the webhook's services (``get_services(app)``) need none.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import werkzeug.urls  # noqa: F401  (registers the "werkzeug.url_quote" codec error handler)
from flask import Flask, g
from werkzeug.exceptions import SecurityError
from werkzeug.http import HTTP_STATUS_CODES, parse_options_header
from werkzeug.wsgi import get_content_length, get_current_url

from webapp.ops.logs import (
    REQUEST_ID_HEADER,
    bind_request_id,
    log_request,
    request_id_for,
    unbind_request_id,
)
from webapp.security import response_headers
from webapp.services import Services, get_services
from webapp.webhooks.handler import WebhookResult, handle_webhook
from webapp.webhooks.routes import WEBHOOK_PATH

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

FORM_TYPE = "application/x-www-form-urlencoded"
#: werkzeug's codec error handler: undecodable percent-escapes stay as they were sent.
URL_QUOTE = "werkzeug.url_quote"
#: Request URLs remembered (Twilio calls one or two; anyone can vary ``Host`` or the query).
URL_CACHE_SIZE = 64


def parse_form(body: bytes) -> dict[str, str]:
    """Form parameters as Flask's ``request.form.to_dict()`` gives them for a url-encoded
    body: werkzeug's parsing (``parse_qsl`` keeping blank values, bad percent-escapes left
    quoted, a body that is not UTF-8 read as no parameters), first value per name. Written
    out because ``parse_qsl`` costs twice as much for Twilio's dozen parameters; the unit
    tests hold the two to the same answers."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return {}
    params: dict[str, str] = {}
    for field in text.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if "+" in name:
            name = name.replace("+", " ")
        if "%" in name:
            name = unquote(name, errors=URL_QUOTE)
        if name in params:
            continue
        if "+" in value:
            value = value.replace("+", " ")
        if "%" in value:
            value = unquote(value, errors=URL_QUOTE)
        params[name] = value
    return params


class WebhookFastPath:
    """WSGI middleware serving Twilio's ``POST /twilio/webhook`` ahead of Flask."""

    def __init__(self, app: Flask, wsgi_app: WSGIApplication) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.services: Services = get_services(app)
        self.max_content_length: int | None = app.config["MAX_CONTENT_LENGTH"]
        self.trusted_hosts: list[str] | None = app.config.get("TRUSTED_HOSTS")
        self._urls: dict[tuple[object, ...], str] = {}
        headers = response_headers(self.services.config)
        # Flask adds "Vary: Cookie" to the webhook's answers (Flask-Login's after-request hook
        # looks at the session); kept so both paths answer alike.
        headers["Vary"] = "Cookie"
        self.headers = [("Content-Type", "text/plain; charset=utf-8"), *headers.items()]

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != WEBHOOK_PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.wsgi_app(environ, start_response)
        lean = self._lean_request(environ)
        if lean is None:
            return self.wsgi_app(environ, start_response)
        url, length = lean
        started = time.perf_counter()
        request_id = request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        token = bind_request_id(request_id)
        try:
            body = environ["wsgi.input"].read(length)
            try:
                result = handle_webhook(
                    self.services, parse_form(body), url, environ.get("HTTP_X_TWILIO_SIGNATURE")
                )
            except Exception as exc:  # what Flask would answer (a JSON 500) and log
                return self._flask_error(environ, start_response, exc, request_id, started)
            log_request(
                "POST", WEBHOOK_PATH, result.status, started, result.summary, webhook=result.outcome
            )
        finally:
            unbind_request_id(token)
        return self._answer(start_response, result, request_id)

    def _lean_request(self, environ: WSGIEnvironment) -> tuple[str, int] | None:
        """The request's URL (as Flask's ``request.url``) and body length if this path serves
        it, else None."""
        mimetype, _ = parse_options_header(environ.get("CONTENT_TYPE"))
        length = get_content_length(environ)
        if mimetype != FORM_TYPE or length is None:
            return None  # other bodies, and chunked ones: Flask's parser
        if self.max_content_length is not None and length > self.max_content_length:
            return None  # Flask's 413
        # The URL depends on these alone (the path is fixed); werkzeug's building of it is
        # ~5 % of the lean path, so each distinct one is built once.
        key = (
            environ.get("wsgi.url_scheme"),
            environ.get("HTTP_HOST"),
            environ.get("SERVER_NAME"),
            environ.get("SERVER_PORT"),
            environ.get("SCRIPT_NAME"),
            environ.get("QUERY_STRING"),
        )
        url = self._urls.get(key)
        if url is None:
            try:
                url = get_current_url(environ, trusted_hosts=self.trusted_hosts)
            except SecurityError:
                return None  # Flask's 400
            if len(self._urls) >= URL_CACHE_SIZE:
                self._urls.clear()  # many hosts or queries: a bound, not an LRU
            self._urls[key] = url
        return url, length

    def _answer(
        self, start_response: StartResponse, result: WebhookResult, request_id: str
    ) -> list[bytes]:
        body = result.body
        start_response(
            f"{result.status} {HTTP_STATUS_CODES[result.status].upper()}",
            [
                *self.headers,
                ("Content-Length", str(len(body))),
                (REQUEST_ID_HEADER, request_id),
            ],
        )
        return [body]

    def _flask_error(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        exc: Exception,
        request_id: str,
        started: float,
    ) -> Any:
        """An unexpected failure, answered and logged by Flask exactly as in its own cycle."""
        with self.app.request_context(environ):
            g.request_id, g.request_started = request_id, started
            response = self.app.finalize_request(
                self.app.handle_exception(exc), from_error_handler=True
            )
            return response(environ, start_response)


def init_fast_path(app: Flask) -> None:
    """Put the webhook's lean path in front of the app's WSGI stack (inside ``ProxyFix``,
    which ``create_app`` adds afterwards, so the URL checked is the public one)."""
    app.wsgi_app = WebhookFastPath(app, app.wsgi_app)  # type: ignore[method-assign]
