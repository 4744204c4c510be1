"""The webhook's lean WSGI path answers, logs and counts exactly as Flask's route would.

Each comparison sends the same request twice to one app: through its full WSGI stack (where
the lean path takes Twilio's requests) and straight to the stack behind it (Flask's route).
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask, request
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from werkzeug.test import Client, EnvironBuilder, TestResponse
from werkzeug.wrappers import Request

from tests.support.servers import RedisServer
from webapp import create_app
from webapp.config import Config
from webapp.events.redis_broker import RedisBroker, connect
from webapp.events.types import Event
from webapp.ops.logs import configure_logging
from webapp.webhooks import translate
from webapp.webhooks.fast_path import WebhookFastPath, parse_form

TOKEN = "fast-path-test-token"
LOCAL = "http://localhost/twilio/webhook"
FORM = "application/x-www-form-urlencoded"
SID = "CH" + "a" * 32


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., tuple[Flask, io.StringIO]]]:
    """``make_app(**env)``: an app (in-process broker) logging into a buffer, with a record
    of the requests Flask's own cycle served."""
    apps: list[Flask] = []

    def make(**env: str) -> tuple[Flask, io.StringIO]:
        base = {
            "SECRET_KEY": "fast-path-secret",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}",
            "TWILIO_AUTH_TOKEN": TOKEN,
        }
        config = Config.from_env({**base, **env}, require_service_sid=False)
        app = create_app(config)
        app.extensions["flask_served"] = served = []
        app.before_request(lambda: served.append(request.path))
        buffer = io.StringIO()
        configure_logging(config, stream=buffer)
        apps.append(app)
        return app, buffer

    yield make
    for app in apps:
        app.extensions["parley"].broker.close()


def sign(url: str, params: dict[str, str]) -> str:
    return RequestValidator(TOKEN).compute_signature(url, params)


def flask_only(app: Flask) -> Client:
    """A client for the app's WSGI stack behind the lean path: Flask's route serves it all."""
    assert isinstance(app.wsgi_app, WebhookFastPath)
    return Client(app.wsgi_app.wsgi_app)


def same_answer(fast: TestResponse, flask: TestResponse) -> None:
    def shape(response: TestResponse) -> tuple[str, bytes, set[tuple[str, str]]]:
        headers = {(k, v) for k, v in response.headers.items() if k != "X-Request-Id"}
        return response.status, response.get_data(), headers

    assert shape(fast) == shape(flask)


def signed_post(client: Client, params: dict[str, str], **kwargs: Any) -> TestResponse:
    signature = sign(kwargs.pop("url", LOCAL), params)
    headers = {"X-Twilio-Signature": signature, **kwargs.pop("headers", {})}
    return client.post("/twilio/webhook", data=params, headers=headers, **kwargs)


# Form parsing -------------------------------------------------------------------------------

_pieces = st.sampled_from(
    ["a", "B", "=", "&", "+", "%", "%2F", "%e9", "%C3%A9", "%zz", "é", ";", " ", "\x00", "=="]
)
_bodies = st.one_of(
    st.binary(max_size=60),
    st.lists(_pieces, max_size=24).map(lambda pieces: "".join(pieces).encode()),
)


@settings(max_examples=400, deadline=None, database=None)
@given(body=_bodies)
def test_form_parameters_are_read_as_flask_reads_them(body: bytes) -> None:
    environ = EnvironBuilder(method="POST", data=body, content_type=FORM).get_environ()
    assert parse_form(body) == Request(environ).form.to_dict()


# Same answers as Flask's route ---------------------------------------------------------------


def _requests() -> list[tuple[str, dict[str, Any]]]:
    ignored = {"EventType": "onUserUpdated", "AccountSid": "AC" + "0" * 32}
    no_sid = {"EventType": "onMessageAdded", "Body": "no conversation"}
    return [
        ("unsigned", {"data": {"EventType": "onMessageAdded", "ConversationSid": SID}}),
        ("forged", {"data": ignored, "headers": {"X-Twilio-Signature": sign(LOCAL, no_sid)}}),
        ("ignored", {"data": ignored, "headers": {"X-Twilio-Signature": sign(LOCAL, ignored)}}),
        ("no sid", {"data": no_sid, "headers": {"X-Twilio-Signature": sign(LOCAL, no_sid)}}),
        (
            "first of repeated names",
            {
                "data": "EventType=onUserUpdated&EventType=onMessageAdded",
                "content_type": FORM,
                "headers": {"X-Twilio-Signature": sign(LOCAL, {"EventType": "onUserUpdated"})},
            },
        ),
        (
            "query string signed",
            {
                "data": ignored,
                "query_string": "a=1&b=%20",
                "headers": {"X-Twilio-Signature": sign(LOCAL + "?a=1&b=%20", ignored)},
            },
        ),
        ("not UTF-8", {"data": b"EventType=\xff\xfe", "content_type": FORM}),
        ("bad escapes", {"data": b"%ff%=%zz&&=x&y", "content_type": FORM}),
        ("empty", {"data": b"", "content_type": FORM}),
        ("bad length", {"data": b"a=b", "content_type": FORM, "headers": {"Content-Length": "x"}}),
        ("JSON", {"data": json.dumps(ignored), "content_type": "application/json"}),
        ("oversized", {"data": {"Body": "x" * (300 * 1024)}}),
    ]


@pytest.mark.parametrize("name,kwargs", _requests(), ids=[name for name, _ in _requests()])
def test_the_lean_path_answers_as_flask_does(
    make_app: Callable[..., tuple[Flask, io.StringIO]], name: str, kwargs: dict[str, Any]
) -> None:
    app, _ = make_app()
    fast = app.test_client().post("/twilio/webhook", **kwargs)
    flask = flask_only(app).post("/twilio/webhook", **kwargs)
    same_answer(fast, flask)
    assert fast.status_code < 500


def test_twilios_requests_skip_flask_and_everything_else_reaches_it(
    make_app: Callable[..., tuple[Flask, io.StringIO]],
) -> None:
    app, _ = make_app()
    served = app.extensions["flask_served"]
    client = app.test_client()
    assert client.post("/twilio/webhook", data={"a": "b"}).status_code == 403
    assert served == []  # the lean path answered
    assert client.get("/twilio/webhook").status_code == 405
    assert client.post("/twilio/webhook", data={"a": "b"}, content_type="multipart/form-data")
    assert client.post("/twilio/webhook", data={"Body": "x" * (300 * 1024)}).status_code == 413
    assert client.post("/twilio/webhook/", data={"a": "b"}).status_code == 404
    assert client.get("/healthz").status_code == 200
    assert served == ["/twilio/webhook"] * 3 + ["/twilio/webhook/", "/healthz"]


def test_the_public_url_is_checked_behind_a_trusted_proxy_only(
    make_app: Callable[..., tuple[Flask, io.StringIO]],
) -> None:
    public = "https://chat.example.com/twilio/webhook"
    params = {"EventType": "onUserUpdated"}
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "chat.example.com"}
    signature = {"X-Twilio-Signature": sign(public, params), **forwarded}

    proxied, _ = make_app(TRUST_PROXY="1", PUBLIC_BASE_URL="https://other.example.com")
    assert proxied.test_client().post("/twilio/webhook", data=params, headers=signature).text == (
        "ignored\n"
    )
    direct, _ = make_app(PUBLIC_BASE_URL="https://other.example.com")
    assert (
        direct.test_client().post("/twilio/webhook", data=params, headers=signature).status_code
        == 403
    )
    # Without ProxyFix, the configured public URL is the other URL tried.
    configured, _ = make_app(PUBLIC_BASE_URL="https://chat.example.com")
    answer = signed_post(configured.test_client(), params, url=public)
    assert answer.status_code == 200 and answer.text == "ignored\n"


# Request id, log line, metrics ----------------------------------------------------------------


def test_the_request_id_is_kept_echoed_and_on_every_line_of_the_request(
    make_app: Callable[..., tuple[Flask, io.StringIO]],
) -> None:
    app, buffer = make_app()
    client = app.test_client()
    kept = client.post("/twilio/webhook", data={"a": "b"}, headers={"X-Request-Id": "rt-42"})
    assert kept.headers["X-Request-Id"] == "rt-42"
    replaced = client.post("/twilio/webhook", data={"a": "b"}, headers={"X-Request-Id": "a b"})
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-Id"])
    logging.getLogger("webapp.test").warning("after the requests")

    lines = buffer.getvalue().splitlines()
    mine = [line for line in lines if "[rt-42]" in line]
    assert len(mine) == 2
    assert "webhook rejected: bad or missing signature" in mine[0]
    assert "webapp.request" in mine[1] and "POST /twilio/webhook 403" in mine[1]
    assert mine[1].endswith("ms bad_signature")
    assert sum("webapp.request" in line for line in lines) == 2  # one line per request
    assert "[-] after the requests" in lines[-1]  # the id does not outlive its request


def test_production_logs_the_outcome_as_a_json_field(
    make_app: Callable[..., tuple[Flask, io.StringIO]],
) -> None:
    app, buffer = make_app(LOG_FORMAT="json")
    params = {"EventType": "onUserUpdated"}
    answer = signed_post(app.test_client(), params, headers={"X-Request-Id": "req-7"})
    assert answer.status_code == 200
    [entry] = [json.loads(line) for line in buffer.getvalue().splitlines() if "req-7" in line]
    assert entry["logger"] == "webapp.request" and entry["request_id"] == "req-7"
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/twilio/webhook", 200)
    assert entry["webhook"] == "ignored" and isinstance(entry["duration_ms"], float)
    assert entry["message"].endswith("ms ignored onUserUpdated")


def test_each_answer_is_counted_by_outcome(
    make_app: Callable[..., tuple[Flask, io.StringIO]],
) -> None:
    app, _ = make_app()

    def count(outcome: str) -> float:
        pattern = rf'^parley_webhooks_total\{{outcome="{outcome}"\}} (\S+)$'
        match = re.search(pattern, app.extensions["parley"].metrics.render(), re.MULTILINE)
        assert match, outcome
        return float(match.group(1))

    before = count("bad_signature"), count("ignored")
    client = app.test_client()
    client.post("/twilio/webhook", data={"a": "b"})
    signed_post(client, {"EventType": "onUserUpdated"})
    signed_post(client, {"EventType": "onUserAdded"})
    assert (count("bad_signature"), count("ignored")) == (before[0] + 1, before[1] + 2)


def test_an_unexpected_failure_gets_flasks_own_answer(
    make_app: Callable[..., tuple[Flask, io.StringIO]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in a translator (stood in for here) is a JSON 500 with the request id, the
    security headers and a logged traceback, as Flask's cycle gives it."""

    def broken(services: object, params: object) -> list[translate.Outgoing]:
        raise RuntimeError("a bug")

    monkeypatch.setitem(translate.TRANSLATORS, "onBroken", broken)
    app, buffer = make_app()
    params = {"EventType": "onBroken", "ConversationSid": SID}
    fast = signed_post(app.test_client(), params, headers={"X-Request-Id": "bug-1"})
    flask = signed_post(flask_only(app), params)
    same_answer(fast, flask)
    assert fast.status_code == 500 and fast.json == {
        "error": {
            "code": "internal_server_error",
            "message": fast.json["error"]["message"],  # type: ignore[index]
        }
    }
    assert fast.headers["X-Request-Id"] == "bug-1"
    text = buffer.getvalue()
    assert "[bug-1] Exception on /twilio/webhook [POST]" in text and "RuntimeError" in text
    assert "[bug-1] POST /twilio/webhook 500" in text


# The publish's script ------------------------------------------------------------------------


def test_publish_loads_its_script_again_when_redis_forgot_it(redis_server: RedisServer) -> None:
    client = connect(redis_server.url)
    broker = RedisBroker(client, redis_server.url)
    try:
        event = Event("message_added", {"n": 1})
        assert broker.publish(event, ["alice"], once="fast-path-noscript-1")
        client.script_flush()
        assert broker.publish(event, ["alice"], once="fast-path-noscript-2")
        assert not broker.publish(event, ["alice"], once="fast-path-noscript-2")  # once
    finally:
        broker.close()


def test_publish_reports_redis_down_as_unavailable(redis_server: RedisServer) -> None:
    from webapp.events.broker import BrokerUnavailable

    client = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    broker = RedisBroker(client, redis_server.url)
    try:
        with pytest.raises(BrokerUnavailable):
            broker.publish(Event("message_added", {}), ["alice"])
    finally:
        broker.close()
