"""Fixtures for the operations tests: the emulator and Parley on real ports in this process
(werkzeug threads), configs built as the environment would build them, a scratch PostgreSQL
database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from twilio.rest import Client
from werkzeug.wrappers import Request

from tests.ops.postgres import scratch_database
from tests.support.servers import Served
from tests.support.waiting import free_port
from twilio_emulator import EmulatorSettings, EmulatorState, create_emulator_app
from webapp import create_app
from webapp.config import Config
from webapp.twilio_gateway.client import EmulatorHttpClient

#: The emulator's auth token in these tests; Parley must use the same one.
TOKEN = "ops-test-auth-token"


@dataclass
class RunningEmulator:
    """The emulator on a real port; ``requests`` lists each (method, path) it received."""

    state: EmulatorState
    served: Served
    requests: list[tuple[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.served.url

    def client(self, token: str = TOKEN) -> Client:
        settings = self.state.settings
        http = EmulatorHttpClient(self.url, timeout=10)
        return Client(settings.account_sid, token, http_client=http)

    def webhook_config(self) -> Any:
        return self.state.store.get_webhooks(self.state.settings.service_sid)

    def posts_to(self, suffix: str) -> int:
        return sum(1 for method, path in self.requests if method == "POST" and path == suffix)


@pytest.fixture
def start_emulator() -> Iterator[Callable[..., RunningEmulator]]:
    """``start_emulator(**settings)``: an emulator whose webhook points nowhere useful yet
    (as a fresh Twilio service's would), with every Twilio event subscribed."""
    running: list[RunningEmulator] = []

    def start(**overrides: Any) -> RunningEmulator:
        settings = EmulatorSettings(
            **{"auth_token": TOKEN, "post_webhook_url": None, "webhook_retries": 0, **overrides}
        )
        app = create_emulator_app(settings)
        seen: list[tuple[str, str]] = []

        def recording(environ: dict[str, Any], start_response: Any) -> Any:
            request = Request(environ)
            seen.append((request.method, request.path))
            return app(environ, start_response)

        emulator = RunningEmulator(app.extensions["twilio_emulator"], Served(recording), seen)
        running.append(emulator)
        return emulator

    yield start
    for emulator in running:
        emulator.served.stop()
        emulator.state.close()


def parley_config(tmp: Path, **env: str) -> Config:
    """A config as Parley would read it from these environment variables."""
    base = {
        "SECRET_KEY": "ops-test-secret-key",
        "DATABASE_URL": f"sqlite:///{tmp / 'parley.sqlite3'}",
        "TWILIO_AUTH_TOKEN": TOKEN,
    }
    return Config.from_env({**base, **env}, require_service_sid=False)


@dataclass
class ServedParley:
    app: Flask
    served: Served

    @property
    def url(self) -> str:
        return self.served.url


@pytest.fixture
def serve_parley(tmp_path: Path) -> Iterator[Callable[..., ServedParley]]:
    """``serve_parley(**env)``: Parley on a free port, PUBLIC_BASE_URL pointing at itself."""
    running: list[ServedParley] = []

    def serve(**env: str) -> ServedParley:
        port = free_port()
        env = {"PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "PORT": str(port), **env}
        app = create_app(parley_config(tmp_path, **env))
        with app.app_context():
            from webapp.extensions import db

            db.create_all()
        parley = ServedParley(app, Served(app, port))
        running.append(parley)
        return parley

    yield serve
    for parley in running:
        parley.served.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A scratch database on the machine's PostgreSQL (127.0.0.1:5432), dropped afterwards."""
    with scratch_database() as url:
        yield url
