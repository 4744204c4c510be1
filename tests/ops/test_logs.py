"""One log line per request with a request id; JSON in production; never a secret."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from flask import Flask
from hypothesis import given
from hypothesis import strategies as st

from tests.ops.conftest import TOKEN, parley_config
from webapp import create_app
from webapp.config import Config
from webapp.ops.logs import RedactingFormatter, configure_logging

API_KEY_SECRET = "emulator-api-key-secret"


def app_with_log(tmp_path: Path, **env: str) -> tuple[Flask, io.StringIO]:
    config = parley_config(tmp_path, **env)
    app = create_app(config)
    buffer = io.StringIO()
    configure_logging(config, stream=buffer)
    return app, buffer


def request_lines(buffer: io.StringIO) -> list[str]:
    return [line for line in buffer.getvalue().splitlines() if "webapp.request" in line]


def test_each_request_gets_an_id_echoed_in_the_response_and_its_log_line(
    tmp_path: Path,
) -> None:
    app, buffer = app_with_log(tmp_path)
    response = app.test_client().get("/healthz")
    request_id = response.headers["X-Request-Id"]
    assert len(request_id) == 32
    [line] = request_lines(buffer)
    assert f"[{request_id}] GET /healthz 200" in line


def test_an_incoming_request_id_is_kept_and_a_strange_one_replaced(tmp_path: Path) -> None:
    app, _ = app_with_log(tmp_path)
    client = app.test_client()
    kept = client.get("/healthz", headers={"X-Request-Id": "f0e1d2c3-router-id"})
    assert kept.headers["X-Request-Id"] == "f0e1d2c3-router-id"
    replaced = client.get("/healthz", headers={"X-Request-Id": "evil\tid " + "x" * 300})
    assert replaced.headers["X-Request-Id"] != "evil"
    assert len(replaced.headers["X-Request-Id"]) == 32


def test_production_logs_one_json_object_per_line(tmp_path: Path) -> None:
    app, buffer = app_with_log(tmp_path, PARLEY_ENV="production")
    response = app.test_client().get("/healthz?secret=no", headers={"X-Request-Id": "req-42"})
    entries = [json.loads(line) for line in buffer.getvalue().splitlines()]
    [entry] = [e for e in entries if e["logger"] == "webapp.request"]
    assert entry["request_id"] == response.headers["X-Request-Id"] == "req-42"
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/healthz", 200)
    assert entry["level"] == "info" and isinstance(entry["duration_ms"], float)
    assert "secret=no" not in buffer.getvalue()  # paths are logged without the query


def test_log_format_can_be_chosen_outside_production() -> None:
    assert Config.from_env({}).LOG_FORMAT == "plain"
    assert Config.from_env({"PARLEY_ENV": "production", "SECRET_KEY": "k" * 32}).LOG_FORMAT == (
        "json"
    )
    assert Config.from_env({"LOG_FORMAT": "JSON"}).LOG_FORMAT == "json"


def test_secrets_never_reach_the_log(tmp_path: Path) -> None:
    app, buffer = app_with_log(tmp_path, LOG_FORMAT="json", METRICS_TOKEN="metrics-token-123")
    app.test_client().get(
        "/metrics",
        headers={"Authorization": "Bearer metrics-token-123", "Cookie": "session=cookie-value-9"},
    )
    # Whatever code logs a secret by mistake, the line shows it redacted.
    logging.getLogger("webapp.test").warning("token %s and secret %s", TOKEN, API_KEY_SECRET)
    logging.getLogger("webapp.test").warning("key %s", app.config["SECRET_KEY"])
    text = buffer.getvalue()
    for secret in (TOKEN, API_KEY_SECRET, "metrics-token-123", "cookie-value-9", "Bearer"):
        assert secret not in text
    assert text.count("[redacted]") == 3


def test_lines_logged_during_a_request_carry_its_id(tmp_path: Path) -> None:
    app, buffer = app_with_log(tmp_path)
    response = app.test_client().post("/twilio/webhook", data={"EventType": "onMessageAdded"})
    assert response.status_code == 403
    request_id = response.headers["X-Request-Id"]
    rejected = [line for line in buffer.getvalue().splitlines() if "webhook rejected" in line]
    assert rejected and f"[{request_id}]" in rejected[0]


def test_database_and_redis_passwords_are_redacted_too(tmp_path: Path) -> None:
    config = parley_config(
        tmp_path,
        DATABASE_URL="postgres://u:db-password-1@db.example:5432/p",
        REDIS_URL="rediss://:redis-password-1@redis.example:6380",
    )
    buffer = io.StringIO()
    configure_logging(config, stream=buffer)
    logging.getLogger("webapp.test").warning("connecting to %s", config.REDIS_URL)
    logging.getLogger("webapp.test").warning("connecting to %s", config.SQLALCHEMY_DATABASE_URI)
    assert "password-1" not in buffer.getvalue()


def test_log_records_look_up_no_thread(tmp_path: Path) -> None:
    """No line shows one, and under gevent the lookup makes a Thread for each greenlet."""
    app_with_log(tmp_path)
    record = logging.getLogger("webapp.request").makeRecord(
        "webapp.request", logging.INFO, __file__, 1, "GET / 200", (), None
    )
    assert record.threadName is None


@given(st.lists(st.floats(min_value=0, max_value=4e9), min_size=1, max_size=6))
def test_the_time_on_a_line_is_what_logging_writes(times: list[float]) -> None:
    """Once a second, then again for a line logged late (a second already passed)."""
    ours = RedactingFormatter([], "%(asctime)s %(message)s")
    plain = logging.Formatter("%(asctime)s %(message)s")
    for created in [*times, *times]:
        record = logging.makeLogRecord({"created": created, "msecs": (created % 1) * 1000 // 1})
        assert ours.formatTime(record) == plain.formatTime(record)
