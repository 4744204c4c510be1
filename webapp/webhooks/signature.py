"""Checking ``X-Twilio-Signature``: Twilio's algorithm, as its ``RequestValidator`` computes it."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator, Mapping
from urllib.parse import urlparse, urlsplit

from twilio.request_validator import add_port, remove_port


def candidate_urls(request_url: str, public_webhook_url: str) -> list[str]:
    """The URLs Twilio may have signed: the one this request arrived at (after ``ProxyFix``),
    and the configured public one, with the same query string."""
    query = urlsplit(request_url).query
    public = public_webhook_url + (f"?{query}" if query else "")
    return [request_url] if public == request_url else [request_url, public]


def _signature(key: bytes, url: str, signed_params: str) -> bytes:
    """``RequestValidator.compute_signature`` (HMAC-SHA1 of the URL and the sorted
    parameters, base64), with the parameter string built once for every URL tried."""
    return base64.b64encode(hmac.new(key, (url + signed_params).encode(), hashlib.sha1).digest())


def _variants(urls: list[str]) -> Iterator[str]:
    """Each URL as given first, then each with and without its port (Twilio's signing of
    ports is inconsistent, which is why ``RequestValidator.validate`` always computes both).
    Lazily: the usual request matches the first URL and costs one HMAC and no URL parsing."""
    seen: set[str] = set()
    for url in urls:
        if url not in seen:
            seen.add(url)
            yield url
    for url in urls:
        parsed = urlparse(url)
        for variant in (remove_port(parsed), add_port(parsed)):
            if variant not in seen:
                seen.add(variant)
                yield variant


def is_valid_signature(
    auth_token: str,
    urls: list[str],
    params: Mapping[str, str],
    signature: str | None,
) -> bool:
    """True when ``signature`` matches one of ``urls`` with ``params`` under ``auth_token``.

    The same check as ``RequestValidator.validate`` for form-encoded requests (the unit tests
    sign with the library and verify here), stopping at the first URL that matches."""
    if not signature:
        return False
    key = auth_token.encode()
    # Form parameters have one value each (Flask's ``to_dict``): Twilio's order is by name.
    signed_params = "".join(name + params[name] for name in sorted(params))
    expected = signature.encode("utf-8", "replace")
    return any(
        hmac.compare_digest(_signature(key, url, signed_params), expected)
        for url in _variants(urls)
    )
