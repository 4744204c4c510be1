"""Checking ``X-Twilio-Signature`` with the ``twilio`` library's own validator."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator


def candidate_urls(request_url: str, public_webhook_url: str) -> list[str]:
    """The URLs Twilio may have signed: the one this request arrived at (after ``ProxyFix``),
    and the configured public one, with the same query string."""
    query = urlsplit(request_url).query
    public = public_webhook_url + (f"?{query}" if query else "")
    return [request_url] if public == request_url else [request_url, public]


def is_valid_signature(
    auth_token: str,
    urls: list[str],
    params: Mapping[str, str],
    signature: str | None,
) -> bool:
    """True when ``signature`` matches one of ``urls`` with ``params`` under ``auth_token``."""
    if not signature:
        return False
    validator = RequestValidator(auth_token)
    return any(validator.validate(url, dict(params), signature) for url in urls)
