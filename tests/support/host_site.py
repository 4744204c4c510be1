"""The host site's side of sign-in hand-over (``webapp/sso``), as the README tells a host
developer to write it: a token endpoint in the shape ``generate_token(identity)``, a page
that auto-submits the token to Parley (in the page itself, or into a chat panel's frame), the
back-channel logout, and a conversation made with the ``twilio`` library."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import requests
from flask import Flask, request
from markupsafe import escape
from twilio.rest import Client

from tests.support.clients import ApiClient
from tests.support.servers import ParleyServer, run_parley, start_redis
from tests.support.waiting import free_port
from twilio_emulator.credentials import EMULATOR_ACCOUNT_SID, EMULATOR_SERVICE_SID
from webapp.twilio_gateway.client import EmulatorHttpClient

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


def create_conversation(parley_url: str, auth_token: str, name: str, *identities: str) -> str:
    """What the host's back end does with the ``twilio`` library (here against the emulator
    inside Parley's server): a conversation of its users, before any of them opened Parley."""
    http = EmulatorHttpClient(parley_url + "/_emulator", timeout=10)
    service = Client(EMULATOR_ACCOUNT_SID, auth_token, http_client=http).conversations.v1.services(
        EMULATOR_SERVICE_SID
    )
    sid: str = service.conversations.create(friendly_name=name).sid
    for identity in identities:
        service.conversations(sid).participants.create(identity=identity)
    return sid


#: The name of the host page's chat frame, which its sign-in form targets.
PANEL = "parley-chat"


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

    @app.get("/panel/<user_id>")
    def chat_panel(user_id: str) -> str:
        """The host's own page with a chat panel: the README's embed snippet. ``?sid=`` opens
        that one conversation; without it, the list."""
        sid = request.args.get("sid")
        next_path = f"/c/{sid}?embed=1" if sid else "/?embed=1"
        token = generate_token(user_id, parley_url, name=f"Host user {user_id}", next=next_path)
        return (
            "<!doctype html><title>Host shop</title>"
            "<body onload='document.forms[0].submit()'><h1>Your order</h1>"
            f"<iframe name='{PANEL}' title='Chat with the shop' src='about:blank'"
            " style='width: 420px; height: 560px; border: 1px solid #ccc'></iframe>"
            f"<form method='post' action='{escape(parley_url)}/sso/login' target='{PANEL}'>"
            f"<input type='hidden' name='token' value='{escape(token)}'></form></body>"
        )

    @app.get("/framed")
    def framed() -> str:
        """A page that frames Parley with no sign-in: for a site Parley does not trust."""
        return (
            f"<!doctype html><title>Elsewhere</title><iframe name='{PANEL}' "
            f"src='{escape(parley_url)}/login?embed=1'></iframe>"
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
