"""Browser-facing protections wired in one place: security headers and the login limiter.

Everything the page loads comes from this origin (``static/``, no inline scripts or styles),
so the Content-Security-Policy can forbid everything else. See ``docs/security.md``.
"""

from __future__ import annotations

from flask import Flask, Response

from webapp.config import Config
from webapp.extensions import limiter

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'self'",
    )
)

#: Sent on every response of the Flask app (the emulator under ``/_emulator`` is a separate
#: WSGI app and is not covered; it never serves pages).
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

#: One year, subdomains included: only sent in production, where Parley is served over HTTPS.
HSTS = "max-age=31536000; includeSubDomains"


def init_security(app: Flask, config: Config) -> None:
    """Security headers on every response, and the login rate limiter (Flask-Limiter)."""
    headers = dict(SECURITY_HEADERS)
    if config.PRODUCTION:
        headers["Strict-Transport-Security"] = HSTS

    @app.after_request
    def _add_security_headers(response: Response) -> Response:
        # Setting headers does not touch the body: streamed responses (SSE) stay unbuffered.
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    limiter.init_app(app)
