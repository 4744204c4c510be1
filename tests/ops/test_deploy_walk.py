"""What walking docs/deploy.md from a clean clone turned up: `twilio setup` and `twilio doctor`
run from a one-off dyno that cannot reach Twilio (or an emulator that is not running) explain
that in one line instead of printing a traceback; a request refused before its handler runs
is still logged with its request id; gunicorn reads `TRUST_PROXY` as Parley does."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.ops.conftest import parley_config
from tests.support.servers import BIN, ROOT
from tests.support.waiting import free_port
from webapp import create_app
from webapp.ops.logs import configure_logging


def cli(tmp_path: Path, *args: str, **env: str) -> Any:
    app = create_app(parley_config(tmp_path, **env))
    return app.test_cli_runner().invoke(args=list(args))


def nobody_listens() -> str:
    """An emulator URL with nothing behind it (a port just found free)."""
    return f"http://127.0.0.1:{free_port()}"


def test_doctor_says_twilio_did_not_answer_and_how_to_check(tmp_path: Path) -> None:
    result = cli(tmp_path, "twilio", "doctor", TWILIO_EMULATOR_URL=nobody_listens())

    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    assert "PROBLEM  account credentials:" in result.output
    assert "did not answer" in result.output
    assert "TWILIO_EMULATOR_URL" in result.output  # the fix names what to check
    assert "refused TWILIO_ACCOUNT_SID" not in result.output  # not blamed on the credentials


def test_setup_says_twilio_did_not_answer_in_one_line(tmp_path: Path) -> None:
    result = cli(
        tmp_path,
        "twilio",
        "setup",
        "--public-url",
        "https://parley-walk.example.com",
        TWILIO_EMULATOR_URL=nobody_listens(),
    )

    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.output.startswith("Error: Twilio could not be reached (")
    assert "no answer (ConnectionError)" in result.output
    assert "TWILIO_EMULATOR_URL" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_a_request_refused_by_csrf_is_logged_with_its_id_and_duration(tmp_path: Path) -> None:
    """Found behind a simulated Heroku router: a login refused by the CSRF check was logged as
    `POST /login 302 Nonems` with no request id, so router and app lines could not be matched."""
    config = parley_config(tmp_path, PARLEY_ENV="production")
    app = create_app(config)
    buffer = io.StringIO()
    configure_logging(config, stream=buffer)

    response = app.test_client().post(
        "/login", data={"username": "alice", "password": "x"}, headers={"X-Request-Id": "rt-7"}
    )

    assert response.status_code == 302  # back to the form: "Your session expired"
    assert response.headers["X-Request-Id"] == "rt-7"
    entries = [json.loads(line) for line in buffer.getvalue().splitlines()]
    [entry] = [e for e in entries if e["logger"] == "webapp.request"]
    assert entry["request_id"] == "rt-7"
    assert isinstance(entry["duration_ms"], float), entry


@pytest.mark.parametrize(
    ("trust_proxy", "allowed"),
    [("1", "*"), ("0", "127.0.0.1"), ("off", "127.0.0.1"), (None, "127.0.0.1")],
)
def test_gunicorn_trusts_forwarded_headers_only_when_trust_proxy_is_on(
    tmp_path: Path, trust_proxy: str | None, allowed: str
) -> None:
    """`TRUST_PROXY=0` means off for Parley's ProxyFix; gunicorn must not read it as "set"
    and believe anyone's `X-Forwarded-Proto`."""
    env = {k: v for k, v in os.environ.items() if k != "TRUST_PROXY"}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)  # no temporary directory left behind
    if trust_proxy is not None:
        env["TRUST_PROXY"] = trust_proxy
    code = "import runpy; print(runpy.run_path('gunicorn.conf.py')['forwarded_allow_ips'])"
    result = subprocess.run(
        [str(BIN / "python"), "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == allowed
