"""Fixtures for the security tests: logged-out clients and the app's route map."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from werkzeug.routing import Rule

from webapp import create_app
from webapp.config import Config

_CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Visitor:
    """A browser that has not logged in: it has a session and a CSRF token, nothing more."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        page = self.session.get(base_url + "/login", timeout=10)
        match = _CSRF_FIELD.search(page.text)
        assert match, "login form has no csrf_token field"
        self.csrf_token = match.group(1)

    def request(self, method: str, path: str, **kwargs: object) -> requests.Response:
        headers = {"X-CSRFToken": self.csrf_token}
        return self.session.request(
            method,
            self.base_url + path,
            headers=headers,
            timeout=10,
            allow_redirects=False,
            **kwargs,  # type: ignore[arg-type]
        )

    def log_in(self, username: str, password: str, **headers: str) -> requests.Response:
        return self.session.post(
            self.base_url + "/login",
            data={"username": username, "password": password, "csrf_token": self.csrf_token},
            headers=headers,
            timeout=10,
            allow_redirects=False,
        )


def app_for(tmp: Path, **env: str) -> Config:
    base = {"SECRET_KEY": "security-test-key", "DATABASE_URL": f"sqlite:///{tmp / 'p.sqlite3'}"}
    return Config.from_env({**base, **env}, require_service_sid=False)


@pytest.fixture(scope="session")
def url_rules(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Rule]]:
    """Every route the app serves, read from a real ``create_app()``'s URL map (with sign-in
    from a host site configured, so that its routes exist too)."""
    sso = {"PARLEY_SSO_SECRET": "s" * 32, "PARLEY_SSO_ISSUER": "https://host.example"}
    app = create_app(app_for(tmp_path_factory.mktemp("routes"), **sso))
    try:
        yield list(app.url_map.iter_rules())
    finally:
        app.extensions["parley"].broker.close()
