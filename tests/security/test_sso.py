"""Sign-in handed over by a host site (``webapp/sso``): every refusal, and what a refusal
leaves behind (nothing). The app is the real one (``create_app``) through Flask's test client,
with its in-process broker; the same paths over gunicorn and Redis are in
``tests/integration/test_sso.py``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp import create_app
from webapp.config import Config, ConfigError
from webapp.extensions import db
from webapp.models import User
from webapp.services import get_services

SECRET = "host-shared-secret-of-at-least-32-bytes!"
ISSUER = "https://host.example"
AUDIENCE = "https://parley.example"
SSO_ENV = {
    "PARLEY_SSO_SECRET": SECRET,
    "PARLEY_SSO_ISSUER": ISSUER,
    "PARLEY_SSO_AUDIENCE": AUDIENCE,
}


@dataclass(frozen=True)
class In:
    """A time claim this many seconds from when the token is made (not when tests are
    collected: a long run reaches a test minutes after that)."""

    seconds: int


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    changes = {k: now + v.seconds if isinstance(v, In) else v for k, v in changes.items()}
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "42",
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def hs256(payload: dict[str, Any], key: str | bytes = SECRET) -> str:
    return jwt.encode(payload, key, algorithm="HS256")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    """A token PyJWT would not make: ``alg: none``, or HMAC keyed with a public key's PEM."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = b"" if key is None else hmac.new(key, signing_input.encode(), "sha256").digest()
    return f"{signing_input}.{_b64(signature)}"


def pem(public_key: Any) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


#: The app fixture is shared by a property test's examples: each example posts a new token and
#: a new jti, so no example depends on what an earlier one left.
FIXTURES_ARE_FRESH_ENOUGH = [HealthCheck.function_scoped_fixture]
TOKEN_CHARS = "AZaz09-_=+/"


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Any]:
    apps: list[Flask] = []

    def make(**env: str) -> Flask:
        base = {"SECRET_KEY": "sso-test", "DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"}
        app = create_app(Config.from_env({**base, **env}, require_service_sid=False))
        with app.app_context():
            db.create_all()
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["parley"].broker.close()


@pytest.fixture
def app(make_app: Any) -> Flask:
    made: Flask = make_app(**SSO_ENV)
    return made


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def unlimited(make_app: Any) -> FlaskClient:
    """A client whose failed sign-ins are not rate limited, for the property tests."""
    made: Flask = make_app(**SSO_ENV, LOGIN_LIMIT_PER_IP="1000000/minute")
    return made.test_client()


def users(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.execute(db.select(User.identity)).scalars())


def sign_in(client: FlaskClient, token: str) -> Any:
    return client.post("/sso/login", data={"token": token})


def assert_refused(
    client: FlaskClient, token: str, caplog: pytest.LogCaptureFixture, logged: str
) -> str:
    before = users(client.application)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="webapp.sso.routes"):
        answer = sign_in(client, token)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 401, page
    assert "You are not signed in" in page
    assert users(client.application) == before  # nothing created
    assert client.get("/api/conversations").status_code == 401  # nobody logged in
    lines = [r.getMessage() for r in caplog.records if r.name == "webapp.sso.routes"]
    assert len(lines) == 1 and "sso login refused" in lines[0], lines
    assert re.search(logged, lines[0], re.IGNORECASE), lines[0]
    assert token not in lines[0]
    return page


# -- the way in ---------------------------------------------------------------------------


def test_a_valid_token_signs_the_user_in_and_lands_in_the_chat(client: FlaskClient) -> None:
    answer = sign_in(client, hs256(claims(sub="user|42", name="Ada Lovelace")))
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert 'data-identity="user|42"' in page
    assert "Ada Lovelace" in page
    assert users(client.application) == ["user|42"]


def test_next_lands_on_a_path_of_parley(client: FlaskClient) -> None:
    answer = sign_in(client, hs256(claims(next="/c/CH00000000000000000000000000000001")))
    assert answer.headers["Location"] == "/c/CH00000000000000000000000000000001"


def test_the_session_is_rotated_and_the_name_follows_the_host(client: FlaskClient) -> None:
    with client.session_transaction() as planted:
        planted["planted"] = "by an attacker before sign-in"
    sign_in(client, hs256(claims(name="Ada")))
    with client.session_transaction() as session:
        assert "planted" not in session
    sign_in(client, hs256(claims(name="Ada King")))
    assert "Ada King" in client.get("/").get_data(as_text=True)
    assert users(client.application) == ["42"]


def test_a_public_key_chooses_its_own_algorithm(make_app: Any) -> None:
    for private, algorithm in (
        (ec.generate_private_key(ec.SECP256R1()), "ES256"),
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
        (ed25519.Ed25519PrivateKey.generate(), "EdDSA"),
    ):
        public = pem(private.public_key())
        env = {**SSO_ENV, "PARLEY_SSO_SECRET": "", "PARLEY_SSO_PUBLIC_KEY": public}
        client = make_app(**env).test_client()
        token = jwt.encode(claims(), private, algorithm=algorithm)  # type: ignore[arg-type]
        assert sign_in(client, token).status_code == 302, algorithm


# -- every refusal ------------------------------------------------------------------------


def test_a_bad_signature_is_refused(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    token = hs256(claims(), "another-secret-that-is-at-least-32-bytes")
    page = assert_refused(client, token, caplog, "signature")
    assert "not valid" in page


def test_alg_none_is_refused(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    token = hand_made({"alg": "none", "typ": "JWT"}, claims(), None)
    assert_refused(client, token, caplog, "algorithm")


def test_hs256_signed_with_the_public_key_is_refused(
    make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Algorithm confusion: the attacker knows the public key and uses it as an HMAC secret."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = pem(private.public_key())
    env = {**SSO_ENV, "PARLEY_SSO_SECRET": "", "PARLEY_SSO_PUBLIC_KEY": public_pem}
    client = make_app(**env).test_client()
    token = hand_made({"alg": "HS256", "typ": "JWT"}, claims(), public_pem.encode())
    assert_refused(client, token, caplog, "algorithm")


@pytest.mark.parametrize(
    ("changes", "logged"),
    [
        ({"iss": "https://evil.example"}, "issuer"),
        ({"aud": "https://other-parley.example"}, "audience"),
        ({"aud": [AUDIENCE, "https://other.example"]}, "audience"),
        ({"iat": In(-200), "exp": In(-100)}, "expired"),
        ({"exp": In(300)}, "lifetime"),
        ({"iat": In(600), "exp": In(660)}, "not yet valid|iat"),
        ({"sub": None}, "sub"),
        ({"jti": None}, "jti"),
        ({"iat": None}, "iat"),
        ({"exp": None}, "exp"),
        ({"sub": 42}, "sub"),
        ({"sub": "a\nb"}, "sub"),
        ({"sub": "x" * 257}, "sub"),
        ({"jti": ""}, "jti"),
        ({"exp": "soon"}, "exp"),
        ({"name": "x" * 300}, "name"),
        ({"purpose": "logout"}, "purpose"),
    ],
)
def test_each_wrong_claim_is_refused(
    client: FlaskClient, caplog: pytest.LogCaptureFixture, changes: dict[str, Any], logged: str
) -> None:
    assert_refused(client, hs256(claims(**changes)), caplog, logged)


def test_an_expired_token_says_so(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    past = int(time.time()) - 120
    page = assert_refused(client, hs256(claims(iat=past, exp=past + 60)), caplog, "expired")
    assert "has expired" in page


def test_a_replayed_token_is_refused(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    token = hs256(claims())
    assert sign_in(client, token).status_code == 302
    other = client.application.test_client()  # another browser, with a stolen copy
    page = assert_refused(other, token, caplog, "already used")
    assert "already used" in page


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
        "/\t/evil.example",
        "",
        42,
    ],
)
def test_next_cannot_leave_parley(
    client: FlaskClient, caplog: pytest.LogCaptureFixture, target: object
) -> None:
    assert_refused(client, hs256(claims(next=target)), caplog, "next")


def test_a_token_is_never_taken_from_a_url(client: FlaskClient) -> None:
    token = hs256(claims())
    assert client.get(f"/sso/login?token={token}").status_code == 405
    assert client.post(f"/sso/login?token={token}").status_code == 401
    assert users(client.application) == []


def test_a_password_account_is_not_taken_over(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with app.app_context():
        alice = User.password_account("alice")
        alice.set_password("long-enough-1")
        db.session.add(alice)
        db.session.commit()
    assert_refused(client, hs256(claims(sub="alice")), caplog, "password account")


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURES_ARE_FRESH_ENOUGH)
@given(
    token=st.one_of(
        st.text(max_size=300),
        st.binary(max_size=300).map(lambda b: _b64(b)),
        st.lists(st.text(alphabet=TOKEN_CHARS, max_size=60), min_size=2, max_size=4).map(".".join),
        st.dictionaries(st.text(max_size=8), st.none() | st.integers() | st.text(max_size=8)).map(
            lambda header: hand_made(header, claims(), SECRET.encode())
        ),
    )
)
def test_garbage_tokens_are_always_401_never_5xx(unlimited: FlaskClient, token: str) -> None:
    for path in ("/sso/login", "/sso/logout"):
        assert unlimited.post(path, data={"token": token}).status_code == 401, path


@settings(max_examples=100, deadline=None, suppress_health_check=FIXTURES_ARE_FRESH_ENOUGH)
@given(
    extra=st.dictionaries(
        st.sampled_from(["sub", "exp", "iat", "jti", "name", "next", "purpose", "nbf", "aud"]),
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats()
        | st.text(max_size=30)
        | st.lists(st.integers(), max_size=2),
    )
)
def test_signed_tokens_with_odd_claims_never_5xx(
    unlimited: FlaskClient, extra: dict[str, Any]
) -> None:
    token = jwt.encode({**claims(), **extra}, SECRET, algorithm="HS256")
    answer = unlimited.post("/sso/login", data={"token": token})
    assert answer.status_code in (302, 401)


def test_failed_sign_ins_are_rate_limited_like_logins(make_app: Any) -> None:
    client = make_app(**SSO_ENV, LOGIN_LIMIT_PER_IP="3/minute").test_client()
    bad = hs256(claims(), "another-secret-that-is-at-least-32-bytes")
    assert [sign_in(client, bad).status_code for _ in range(3)] == [401, 401, 401]
    limited = sign_in(client, hs256(claims()))
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    assert "Too many sign-ins" in limited.get_data(as_text=True)


# -- the back-channel logout --------------------------------------------------------------


def test_logout_needs_a_logout_token(client: FlaskClient) -> None:
    assert sign_in(client, hs256(claims())).status_code == 302
    host = client.application.test_client()
    login_token = host.post("/sso/logout", data={"token": hs256(claims())})
    assert login_token.status_code == 401
    assert login_token.get_json()["error"]["code"] == "invalid_token"
    assert client.get("/").status_code == 200
    ended = host.post("/sso/logout", data={"token": hs256(claims(purpose="logout"))})
    assert ended.status_code == 200 and ended.get_json() == {"ended": True}
    assert client.get("/").status_code == 302  # to the login page


def test_logout_of_someone_parley_never_saw_ends_nothing(client: FlaskClient) -> None:
    answer = client.post("/sso/logout", data={"token": hs256(claims(sub="7", purpose="logout"))})
    assert answer.get_json() == {"ended": False}


# -- configuration ------------------------------------------------------------------------


def test_sso_only_turns_passwords_off_and_points_to_the_host(make_app: Any) -> None:
    app = make_app(
        **SSO_ENV, PARLEY_SSO_ONLY="1", PARLEY_SSO_LOGIN_URL="https://host.example/login"
    )
    with app.app_context():
        alice = User.password_account("alice")
        alice.set_password("long-enough-1")
        db.session.add(alice)
        db.session.commit()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert 'href="https://host.example/login"' in page
    assert 'name="password"' not in page
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert csrf
    form = {"username": "alice", "password": "long-enough-1", "csrf_token": csrf.group(1)}
    assert client.post("/login", data=form).status_code == 403
    assert client.get("/").status_code == 302  # not logged in
    assert client.get("/register").status_code == 403


def test_without_sso_the_routes_do_not_exist(make_app: Any) -> None:
    client = make_app().test_client()
    assert client.post("/sso/login", data={"token": hs256(claims())}).status_code == 404


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PARLEY_SSO_ONLY": "1"}, "PARLEY_SSO_ONLY=1"),
        ({**SSO_ENV, "PARLEY_SSO_PUBLIC_KEY": "x"}, "not both"),
        ({**SSO_ENV, "PARLEY_SSO_SECRET": "short"}, "at least 32"),
        ({**SSO_ENV, "PARLEY_SSO_ISSUER": ""}, "PARLEY_SSO_ISSUER"),
        ({**SSO_ENV, "PARLEY_SSO_SECRET": "", "PARLEY_SSO_PUBLIC_KEY": "nope"}, "PEM"),
        ({**SSO_ENV, "REGISTRATION_OPEN": "1"}, "REGISTRATION_OPEN"),
    ],
)
def test_config_mistakes_stop_start_up(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.from_env({"SECRET_KEY": "x", **env})


def test_the_audience_defaults_to_the_public_url() -> None:
    env = {**SSO_ENV, "PARLEY_SSO_AUDIENCE": "", "PUBLIC_BASE_URL": "https://chat.example/"}
    assert Config.from_env({"SECRET_KEY": "x", **env}).PARLEY_SSO_AUDIENCE == "https://chat.example"


def test_the_token_command_signs_with_the_secret_only(make_app: Any) -> None:
    app = make_app(**SSO_ENV)
    out = app.test_cli_runner().invoke(args=["sso", "token", "user|42", "--name", "Ada"])
    assert out.exit_code == 0, out.output
    assert sign_in(app.test_client(), out.output.strip()).status_code == 302
    public = pem(ec.generate_private_key(ec.SECP256R1()).public_key())
    keyed = make_app(**{**SSO_ENV, "PARLEY_SSO_SECRET": "", "PARLEY_SSO_PUBLIC_KEY": public})
    refused = keyed.test_cli_runner().invoke(args=["sso", "token", "42"])
    assert refused.exit_code != 0 and "cannot sign" in refused.output


def test_the_replay_store_key_does_not_hold_the_jti() -> None:
    """Keys are digests: a jti of any length or content makes one short Redis key."""
    digest = hashlib.sha256(b"x" * 256).hexdigest()
    assert len("parley:sso:jti:" + digest) < 100


def test_the_token_rules_live_with_the_apps_other_services(make_app: Any) -> None:
    configured, plain = make_app(**SSO_ENV), make_app()

    assert get_services(configured).sso.rules is not None
    assert get_services(plain).sso.rules is None  # no key: no /sso/login, nothing accepted
    assert "sso" not in configured.extensions  # one home for process-wide objects
