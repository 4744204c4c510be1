"""The host site's side of sign-in hand-over (``webapp/sso``), as the README tells a host
developer to write it: a token endpoint in the shape ``generate_token(identity)``, a page
that auto-submits the token to Parley, and the back-channel logout."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import requests
from flask import Flask
from markupsafe import escape

from tests.support.clients import ApiClient
from tests.support.servers import ParleyServer, run_parley, start_redis
from tests.support.waiting import free_port

SECRET = "host-site-shared-secret-0123456789abcdef"
ISSUER = "http://host.test"


#: What a Parley that trusts this host needs in its environment (plus the audience).
def parley_env(parley_url: str) -> dict[str, str]:
    return {
        "PARLEY_SSO_SECRET": SECRET,
        "PARLEY_SSO_ISSUER": ISSUER,
        "PARLEY_SSO_AUDIENCE": parley_url,
    }


def generate_token(identity: str, audience: str, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": audience,
        "sub": identity,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
        **claims,
    }
    return jwt.encode(payload, SECRET, algorithm="HS256")


def log_out(identity: str, parley_url: str) -> requests.Response:
    """The host's back-channel call when its user logs out there."""
    token = generate_token(identity, parley_url, purpose="logout")
    return requests.post(parley_url + "/sso/logout", data={"token": token}, timeout=10)


def host_app(parley_url: str) -> Flask:
    """A tiny host site on its own origin: ``/chat/<user_id>`` is "the logged-in user opens
    the chat", a page that POSTs a fresh token to Parley as soon as it loads."""
    app = Flask("host_site")

    @app.get("/chat/<user_id>")
    def open_chat(user_id: str) -> str:
        token = generate_token(user_id, parley_url, name=f"Host user {user_id}")
        return (
            "<!doctype html><title>Host</title><body onload='document.forms[0].submit()'>"
            f"<form method='post' action='{escape(parley_url)}/sso/login'>"
            f"<input type='hidden' name='token' value='{escape(token)}'>"
            "<noscript><button>Open the chat</button></noscript></form></body>"
        )

    return app


def signed_in(parley_url: str, identity: str, **claims: Any) -> ApiClient:
    """An API client for ``identity``, signed in by this host with a fresh token."""
    token = generate_token(identity, parley_url, **claims)
    return ApiClient(parley_url).sign_in_from_host(identity, token)


@contextmanager
def trusting_parley(tmp: Path, **overrides: str) -> Iterator[ParleyServer]:
    """A Parley that trusts this host site, with a Redis of its own: Parleys that share a
    Redis must share a Twilio, and each test server has its own emulator."""
    port = free_port()
    redis = start_redis()
    try:
        with run_parley(
            tmp,
            PORT=str(port),
            REDIS_URL=redis.url,
            **parley_env(f"http://127.0.0.1:{port}"),
            **overrides,
        ) as server:
            yield server
    finally:
        redis.stop()
