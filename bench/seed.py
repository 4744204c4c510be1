"""Users, session cookies and conversations for a run, made fast enough for 10,000 users.

* Users: written straight into Parley's database with the app factory (``python -m bench.seed``
  runs in a subprocess with the server's environment). Hashing 10,000 passwords would take
  minutes, so every user shares one hash; only the first user ever logs in through the form.
* Cookies: the first user logs in through the real login form; its session is decoded with
  Flask's own session serializer and re-signed with each user's id. That is exactly the cookie
  the form would have issued (same fields, same ``_id`` for the same User-Agent), minus the
  10,000 round trips.
* Conversations: created through the emulator's REST API with the ``twilio`` library and
  Parley's own emulator transport, without ``X-Twilio-Webhook-Enabled`` so no setup webhooks
  fire into the measured server.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import requests
from flask import Flask

from bench.procs import ROOT

USER_AGENT = "parley-bench/1"
_CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def usernames(count: int, prefix: str = "bu") -> list[str]:
    return [f"{prefix}{i:05d}" for i in range(count)]


def create_users(env: dict[str, str], names: list[str], password: str) -> dict[str, int]:
    """Run this module in a subprocess with the server's env; returns ``{username: id}``."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.seed", "--password", password],
        input="\n".join(names),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"seeding users failed:\n{result.stderr[-4000:]}")
    ids: dict[str, int] = json.loads(result.stdout.strip().splitlines()[-1])
    return ids


def _insert_users(names: list[str], password: str) -> dict[str, int]:
    """Inside Parley's app context: create tables, insert users in bulk, return their ids."""
    from sqlalchemy import insert, select
    from werkzeug.security import generate_password_hash

    from webapp import create_app
    from webapp.extensions import db
    from webapp.models import User

    app = create_app()
    with app.app_context():
        db.create_all()
        shared_hash = generate_password_hash(password)
        existing = set(db.session.execute(select(User.username)).scalars())
        rows = [
            {"username": n, "identity": n, "password_hash": shared_hash}
            for n in names
            if n not in existing
        ]
        for start in range(0, len(rows), 2000):
            db.session.execute(insert(User), rows[start : start + 2000])
        db.session.commit()
        found = db.session.execute(
            select(User.username, User.id).where(User.username.in_(names))
        ).all()
        return {str(name): user_id for name, user_id in found}


def login_through_form(base_url: str, username: str, password: str) -> str:
    """The ``session`` cookie the real login form issues (CSRF token and all)."""
    with requests.Session() as http:
        http.headers["User-Agent"] = USER_AGENT
        page = http.get(base_url + "/login", timeout=10)
        token = _CSRF_FIELD.search(page.text)
        if token is None:
            raise RuntimeError("the login form has no csrf_token field")
        response = http.post(
            base_url + "/login",
            data={"username": username, "password": password, "csrf_token": token.group(1)},
            timeout=10,
            allow_redirects=False,
        )
        if response.status_code not in (302, 303) or "session" not in http.cookies:
            raise RuntimeError(f"login as {username} failed: {response.status_code}")
        return str(http.cookies["session"])


class CookieMinter:
    """Signs session cookies with the server's SECRET_KEY, shaped like a real login's."""

    def __init__(self, secret_key: str, template_cookie: str) -> None:
        app = Flask("bench-cookies")
        app.secret_key = secret_key
        serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        if serializer is None:
            raise RuntimeError("no session serializer (is SECRET_KEY empty?)")
        self._serializer = serializer
        self._template = dict(serializer.loads(template_cookie))
        if "_user_id" not in self._template:
            raise RuntimeError(f"the login cookie has no _user_id: {sorted(self._template)}")

    def cookie(self, user_id: int) -> str:
        # Parley's session id is "<user id>:<session version>"; every seeded user shares the
        # template's version (the column's default), so only the user id part changes.
        _, sep, version = str(self._template["_user_id"]).partition(":")
        return str(
            self._serializer.dumps({**self._template, "_user_id": f"{user_id}{sep}{version}"})
        )


class EmulatorConversations:
    """Creates conversations in the in-process emulator through the ``twilio`` library."""

    def __init__(self, emulator_origin: str, auth_token: str) -> None:
        # Imported here, in the calling thread: importing from the pool's threads deadlocks.
        from twilio.rest import Client

        from twilio_emulator.credentials import EMULATOR_ACCOUNT_SID, EMULATOR_SERVICE_SID
        from webapp.twilio_gateway.client import EmulatorHttpClient

        self._client_class = Client
        self._transport = EmulatorHttpClient
        self._account_sid = EMULATOR_ACCOUNT_SID
        self._service_sid = EMULATOR_SERVICE_SID
        self._origin = emulator_origin
        self._token = auth_token
        self._local = threading.local()

    def _service(self):  # type: ignore[no-untyped-def]
        """One twilio client per thread (its HTTP session is not shared across threads)."""
        service = getattr(self._local, "service", None)
        if service is None:
            client = self._client_class(
                self._account_sid,
                self._token,
                http_client=self._transport(self._origin, timeout=30),
            )
            service = self._local.service = client.conversations.v1.services(self._service_sid)
        return service

    def create(self, members: list[str], name: str) -> str:
        service = self._service()
        sid = str(service.conversations.create(friendly_name=name).sid)
        for identity in members:
            service.conversations(sid).participants.create(identity=identity)
        return sid

    def create_many(self, groups: Iterable[list[str]], threads: int = 8) -> list[str]:
        """Conversations in parallel; order of the result follows ``groups``."""
        groups = list(groups)
        with ThreadPoolExecutor(threads) as pool:
            return list(
                pool.map(lambda ig: self.create(ig[1], f"bench {ig[0]}"), enumerate(groups))
            )


def main() -> None:
    parser = argparse.ArgumentParser(description="Insert bench users (names on stdin).")
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    names = [line.strip() for line in sys.stdin if line.strip()]
    print(json.dumps(_insert_users(names, args.password)))


if __name__ == "__main__":
    main()
