"""Sign-in with an OpenID Connect provider refuses what it cannot trust with a readable page
(401), and a provider it cannot reach with 503: never a 500. The real provider of
``tests/support/oidc_provider.py``; the whole sign-in is in ``tests/browser/test_oidc.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import OidcStack
from tests.security.conftest import app_for
from tests.support.waiting import free_port
from webapp import create_app
from webapp.config import Config, ConfigError

REFUSED = b"The sign-in with Test ID did not work. Try again."


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[object]:
    apps: list[Flask] = []

    def _make(**env: str) -> Flask:
        app = create_app(app_for(tmp_path, **env))
        apps.append(app)
        return app

    yield _make
    for app in apps:
        app.extensions["parley"].broker.close()


@pytest.fixture(scope="module")
def oidc_app(oidc_stack: OidcStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp("oidc-app")
    app = create_app(app_for(tmp, **oidc_stack.provider.parley_env()))
    yield app
    app.extensions["parley"].broker.close()


def test_a_provider_whose_discovery_names_another_issuer_is_refused(
    oidc_stack: OidcStack, make_app
) -> None:  # type: ignore[no-untyped-def]
    env = oidc_stack.provider.parley_env()
    # The same provider reached as 127.0.0.1: its discovery document says localhost.
    env["PARLEY_OIDC_ISSUER"] = env["PARLEY_OIDC_ISSUER"].replace("localhost", "127.0.0.1")
    response = make_app(**env).test_client().get("/oidc/login")
    assert response.status_code == 401
    assert REFUSED in response.data


def test_a_provider_that_cannot_be_reached_is_a_503_page(oidc_stack: OidcStack, make_app) -> None:  # type: ignore[no-untyped-def]
    env = oidc_stack.provider.parley_env() | {
        "PARLEY_OIDC_ISSUER": f"http://127.0.0.1:{free_port()}"
    }
    response = make_app(**env).test_client().get("/oidc/login")
    assert response.status_code == 503
    assert b"could not be reached just now" in response.data


def test_the_login_page_offers_the_provider_and_login_starts_with_pkce(
    oidc_stack: OidcStack, oidc_app: Flask
) -> None:
    client = oidc_app.test_client()
    assert b"Sign in with Test ID" in client.get("/login").data
    location = client.get("/oidc/login?next=//evil.test").headers["Location"]
    assert location.startswith(oidc_stack.provider.issuer + "/auth?")
    for part in ("code_challenge_method=S256", "code_challenge=", "nonce=", "state="):
        assert part in location
    assert "scope=openid+profile" in location or "scope=openid%20profile" in location


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(
        st.sampled_from(["code", "state", "iss", "error", "error_description", "session_state"]),
        st.text(max_size=40),
    )
)
def test_no_callback_query_is_a_server_error(oidc_app: Flask, query: dict[str, str]) -> None:
    with oidc_app.test_client() as client:
        client.get("/oidc/login")  # a real state in the session: a forged one still fails
        response = client.get("/oidc/callback", query_string=query)
    assert response.status_code == 401
    assert REFUSED in response.data


@pytest.mark.parametrize(
    "env, problem",
    [
        ({"PARLEY_OIDC_ISSUER": "https://id.example"}, "PARLEY_OIDC_CLIENT_ID"),
        ({"PARLEY_OIDC_CLIENT_SECRET": "s"}, "PARLEY_OIDC_ISSUER"),
        (
            {
                "PARLEY_OIDC_ISSUER": "id.example",
                "PARLEY_OIDC_CLIENT_ID": "c",
                "PARLEY_OIDC_CLIENT_SECRET": "s",
            },
            "issuer URL",
        ),
    ],
)
def test_oidc_settings_go_together(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        Config.from_env(env)


def test_oidc_turns_open_registration_off() -> None:
    env = {
        "PARLEY_OIDC_ISSUER": "https://id.example",
        "PARLEY_OIDC_CLIENT_ID": "c",
        "PARLEY_OIDC_CLIENT_SECRET": "s",
    }
    config = Config.from_env(env)
    assert not config.REGISTRATION_OPEN
    assert config.PARLEY_OIDC_NAME == "id.example"
    with pytest.raises(ConfigError, match="REGISTRATION_OPEN"):
        Config.from_env(env | {"REGISTRATION_OPEN": "1"})
