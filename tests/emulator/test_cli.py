"""`flask emulator run|sms|outbox`, and the emulator mounted under a path prefix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from twilio.rest import Client
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from tests.emulator.conftest import (
    EMULATOR_ACCOUNT_SID,
    EMULATOR_AUTH_TOKEN,
    EMULATOR_SERVICE_SID,
    RecordingHttpClient,
    RunningEmulator,
    Served,
)
from twilio_emulator import EmulatorSettings, cli, create_emulator_app
from twilio_emulator.settings import POST_EVENTS
from webapp.cli import emulator_cli
from webapp.webhooks.translate import SUBSCRIBED_EVENTS

PHONE, TWILIO_NUMBER = "+15551234567", "+15005550006"


def parley_app(**config: Any) -> Flask:
    """A stand-in for Parley's app: only the config keys the emulator commands read."""
    app = Flask("parley")
    app.config.update({"PUBLIC_BASE_URL": "http://127.0.0.1:5000/", "TWILIO_AUTH_TOKEN": None})
    app.config.update(config)
    app.cli.add_command(emulator_cli)
    return app


def conversation_with_phone(client: Client) -> str:
    api = client.conversations.v1.services(EMULATOR_SERVICE_SID)
    conv = api.conversations.create(unique_name="support")
    api.conversations(conv.sid).participants.create(
        messaging_binding_address=PHONE, messaging_binding_proxy_address=TWILIO_NUMBER
    )
    return str(conv.sid)


def test_sms_command_texts_a_standalone_emulator(emulator: RunningEmulator) -> None:
    conv_sid = conversation_with_phone(emulator.client)
    runner = parley_app(TWILIO_EMULATOR_URL=emulator.url + "/").test_cli_runner()
    result = runner.invoke(
        emulator_cli, ["sms", "--from", PHONE, "--to", "support", "--body", "Hello?"]
    )
    assert result.exit_code == 0, result.output
    assert f"added to {conv_sid}" in result.output
    (msg,) = emulator.client.conversations.v1.conversations(conv_sid).messages.list()
    assert (msg.author, msg.body) == (PHONE, "Hello?")

    outbox = runner.invoke(emulator_cli, ["outbox"])
    assert outbox.exit_code == 0 and outbox.output == ""


def test_sms_command_reports_twilio_errors(emulator: RunningEmulator) -> None:
    runner = parley_app(TWILIO_EMULATOR_URL=emulator.url).test_cli_runner()
    result = runner.invoke(emulator_cli, ["sms", "--from", PHONE, "--to", "nowhere", "--body", "x"])
    assert result.exit_code == 1
    assert "No conversation nowhere" in result.output and "20404" in result.output


@pytest.fixture
def mounted() -> Iterator[tuple[Served, Client]]:
    """The emulator inside another app under `/_emulator`, as Parley mounts it in-process."""
    emulator = create_emulator_app(EmulatorSettings())
    host = Flask("host")
    host.wsgi_app = DispatcherMiddleware(host.wsgi_app, {"/_emulator": emulator})  # type: ignore[method-assign]
    served = Served(host)
    http = RecordingHttpClient(served.url + "/_emulator")
    yield served, Client(EMULATOR_ACCOUNT_SID, EMULATOR_AUTH_TOKEN, http_client=http)
    emulator.extensions["twilio_emulator"].close()
    served.stop()


def test_emulator_works_under_a_path_prefix(mounted: tuple[Served, Client]) -> None:
    _, client = mounted
    conv_sid = conversation_with_phone(client)
    messages = client.conversations.v1.conversations(conv_sid).messages
    for i in range(3):
        messages.create(body=str(i))
    assert [m.body for m in messages.list(page_size=2)] == ["0", "1", "2"]  # follows next page
    assert messages.list()[0].url.startswith("https://conversations.twilio.com/v1/")


def test_sms_command_without_emulator_url_tries_the_in_process_one(
    mounted: tuple[Served, Client],
) -> None:
    served, client = mounted
    conversation_with_phone(client)
    runner = parley_app(PORT=served.server.server_port).test_cli_runner()
    result = runner.invoke(
        emulator_cli, ["sms", "--from", PHONE, "--to", "support", "--body", "hi"]
    )
    assert result.exit_code == 0, result.output
    assert "TWILIO_EMULATOR_URL is not set" in result.output
    assert f"http://127.0.0.1:{served.server.server_port}/_emulator" in result.output


def test_sms_command_explains_an_unreachable_emulator() -> None:
    runner = parley_app(TWILIO_EMULATOR_URL="http://127.0.0.1:9").test_cli_runner()
    result = runner.invoke(emulator_cli, ["sms", "--from", PHONE, "--to", "x", "--body", "x"])
    assert result.exit_code == 1 and "Cannot reach the emulator" in result.output


def test_run_serves_with_parley_settings_and_prints_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: dict[str, Any] = {}

    def fake_run_simple(host: str, port: int, app: Flask, threaded: bool) -> None:
        served.update(host=host, port=port, app=app, threaded=threaded)

    monkeypatch.setattr(cli, "run_simple", fake_run_simple)
    runner = parley_app(TWILIO_AUTH_TOKEN="parley-token").test_cli_runner()
    result = runner.invoke(emulator_cli, ["run", "--port", "4999"])
    assert result.exit_code == 0, result.output
    for value in (EMULATOR_ACCOUNT_SID, "parley-token", EMULATOR_SERVICE_SID, "SK" + "0" * 32):
        assert value in result.output
    assert (served["host"], served["port"], served["threaded"]) == ("127.0.0.1", 4999, True)
    settings = served["app"].extensions["twilio_emulator"].settings
    assert settings.post_webhook_url == "http://127.0.0.1:5000/twilio/webhook"
    assert settings.auth_token == "parley-token"


def test_run_defaults_the_token_when_parley_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "run_simple", lambda *args, **kwargs: None)
    result = parley_app().test_cli_runner().invoke(emulator_cli, ["run"])
    assert result.exit_code == 0 and EMULATOR_AUTH_TOKEN in result.output


def test_run_persist_keeps_state_in_the_given_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(cli, "run_simple", lambda host, port, app, threaded: served.update(app=app))
    path = str(tmp_path / "dev.sqlite3")
    result = parley_app().test_cli_runner().invoke(emulator_cli, ["run", "--persist", path])
    assert result.exit_code == 0, result.output
    assert path in result.output
    state = served["app"].extensions["twilio_emulator"]
    assert state.settings.persist_path == path and state.snapshots is not None
    state.close()


def test_a_standalone_emulator_posts_every_event_parley_subscribes_to() -> None:
    """`python -m twilio_emulator` without `twilio setup` still sends delivery receipts."""
    assert set(SUBSCRIBED_EVENTS) <= set(EmulatorSettings().post_webhook_filters)
    assert "onDeliveryUpdated" in POST_EVENTS
