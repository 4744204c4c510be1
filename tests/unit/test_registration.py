"""``REGISTRATION_OPEN=0``: no sign-ups, a readable refusal, and no link inviting them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from webapp import create_app
from webapp.config import Config
from webapp.extensions import db
from webapp.models import User


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[object]:
    apps: list[Flask] = []

    def make(**env: str) -> Flask:
        base = {"SECRET_KEY": "registration-test", "DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}"}
        app = create_app(Config.from_env({**base, **env}, require_service_sid=False))
        with app.app_context():
            db.create_all()
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["parley"].broker.close()


def _csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, "no csrf_token field"
    return match.group(1)


def test_closed_registration_refuses_readably_and_creates_nobody(make_app) -> None:  # type: ignore[no-untyped-def]
    client = make_app(REGISTRATION_OPEN="0").test_client()
    login = client.get("/login").get_data(as_text=True)
    assert "Create an account" not in login
    page = client.get("/register")
    assert page.status_code == 403
    assert "Ask whoever runs it for an account" in page.get_data(as_text=True)
    form = {"username": "mallory", "password": "long-enough-1", "confirm": "long-enough-1"}
    answer = client.post("/register", data={**form, "csrf_token": _csrf_token(login)})
    assert answer.status_code == 403
    with client.application.app_context():
        assert User.by_username("mallory") is None


def test_open_registration_is_the_default(make_app) -> None:  # type: ignore[no-untyped-def]
    client = make_app().test_client()
    assert "Create an account" in client.get("/login").get_data(as_text=True)
    assert client.get("/register").status_code == 200
