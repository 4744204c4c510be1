"""`flask twilio setup` points the Conversations service's webhook at Parley, once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.ops.conftest import RunningEmulator, parley_config
from twilio_emulator.credentials import EMULATOR_SERVICE_SID
from webapp import create_app
from webapp.twilio_gateway import GatewayError
from webapp.twilio_gateway.service_setup import set_up_service, wanted_webhooks
from webapp.webhooks.translate import SUBSCRIBED_EVENTS

StartEmulator = Callable[..., RunningEmulator]
WEBHOOKS_PATH = f"/v1/Services/{EMULATOR_SERVICE_SID}/Configuration/Webhooks"
PUBLIC = "https://parley.example.com"


def run_setup(tmp_path: Path, emulator: RunningEmulator, *args: str) -> Any:
    app = create_app(parley_config(tmp_path, TWILIO_EMULATOR_URL=emulator.url))
    return app.test_cli_runner().invoke(args=["twilio", "setup", *args])


def test_setup_points_the_webhook_at_the_public_url_with_parleys_filters(
    tmp_path: Path, start_emulator: StartEmulator
) -> None:
    emulator = start_emulator()
    result = run_setup(tmp_path, emulator, "--public-url", PUBLIC + "/")

    assert result.exit_code == 0, result.output
    config = emulator.webhook_config()
    assert config.post_webhook_url == PUBLIC + "/twilio/webhook"
    assert config.method == "POST"
    assert set(config.filters) == set(SUBSCRIBED_EVENTS)
    assert "Changed:" in result.output
    assert f"TWILIO_CONVERSATIONS_SERVICE_SID={EMULATOR_SERVICE_SID}" in result.output
    assert f"PUBLIC_BASE_URL={PUBLIC}" in result.output


def test_a_second_setup_changes_nothing_and_says_so(
    tmp_path: Path, start_emulator: StartEmulator
) -> None:
    emulator = start_emulator()
    assert run_setup(tmp_path, emulator, "--public-url", PUBLIC).exit_code == 0
    writes = emulator.posts_to(WEBHOOKS_PATH)

    again = run_setup(tmp_path, emulator, "--public-url", PUBLIC)

    assert again.exit_code == 0, again.output
    assert "Nothing to change" in again.output
    assert emulator.posts_to(WEBHOOKS_PATH) == writes == 1


def test_setup_defaults_to_public_base_url(tmp_path: Path, start_emulator: StartEmulator) -> None:
    emulator = start_emulator()
    app = create_app(
        parley_config(tmp_path, TWILIO_EMULATOR_URL=emulator.url, PUBLIC_BASE_URL=PUBLIC)
    )
    result = app.test_cli_runner().invoke(args=["twilio", "setup"])
    assert result.exit_code == 0, result.output
    assert emulator.webhook_config().post_webhook_url == PUBLIC + "/twilio/webhook"


def test_setup_replaces_extra_filters_and_a_get_method(
    tmp_path: Path, start_emulator: StartEmulator
) -> None:
    emulator = start_emulator(post_webhook_filters=("onMessageAdded", "onUserAdded"))
    emulator.client().conversations.v1.services(
        EMULATOR_SERVICE_SID
    ).configuration.webhooks().update(method="GET")
    result = run_setup(tmp_path, emulator, "--public-url", PUBLIC)
    assert result.exit_code == 0, result.output
    assert "method: GET -> POST" in result.output
    assert "remove onUserAdded" in result.output
    assert emulator.webhook_config().method == "POST"
    assert set(emulator.webhook_config().filters) == set(SUBSCRIBED_EVENTS)


def test_setup_refuses_a_url_with_a_path(tmp_path: Path, start_emulator: StartEmulator) -> None:
    result = run_setup(tmp_path, start_emulator(), "--public-url", PUBLIC + "/twilio/webhook")
    assert result.exit_code != 0
    assert "no path" in result.output


def test_setup_explains_the_in_process_emulator_needs_none(tmp_path: Path) -> None:
    app = create_app(parley_config(tmp_path))
    result = app.test_cli_runner().invoke(args=["twilio", "setup", "--public-url", PUBLIC])
    assert result.exit_code != 0
    assert "TWILIO_EMULATOR_URL" in result.output


def test_without_a_service_sid_setup_finds_the_service_by_name(
    start_emulator: StartEmulator,
) -> None:
    emulator = start_emulator()
    wanted = wanted_webhooks(PUBLIC, SUBSCRIBED_EVENTS)
    result = set_up_service(emulator.client(), None, wanted, name="Parley emulator")
    assert (result.service_sid, result.found_by) == (EMULATOR_SERVICE_SID, "name")
    assert result.webhooks == wanted


def test_without_a_matching_service_setup_creates_one(start_emulator: StartEmulator) -> None:
    """No service is called "Parley" (the emulator's own is "Parley emulator"), so setup
    creates one with the emulator's `POST /v1/Services` and points its webhook at Parley."""
    emulator = start_emulator()
    wanted = wanted_webhooks(PUBLIC, SUBSCRIBED_EVENTS)
    result = set_up_service(emulator.client(), None, wanted)
    assert result.found_by == "created" and result.service_sid != EMULATOR_SERVICE_SID
    assert emulator.posts_to("/v1/Services") == 1
    created = emulator.state.store.get_service(result.service_sid)
    assert created.friendly_name == "Parley"
    assert result.changes and result.webhooks == wanted
    config = emulator.state.store.get_webhooks(result.service_sid)
    assert (config.post_webhook_url, set(config.filters)) == (wanted.url, set(SUBSCRIBED_EVENTS))
    # A second run finds it by name and changes nothing.
    again = set_up_service(emulator.client(), None, wanted)
    assert (again.service_sid, again.found_by, again.changes) == (result.service_sid, "name", [])
    assert emulator.posts_to("/v1/Services") == 1


def test_a_wrong_service_sid_is_reported_not_replaced(start_emulator: StartEmulator) -> None:
    emulator = start_emulator()
    with pytest.raises(GatewayError) as caught:
        set_up_service(
            emulator.client(), "IS" + "f" * 32, wanted_webhooks(PUBLIC, SUBSCRIBED_EVENTS)
        )
    assert caught.value.code == 20404
    assert emulator.posts_to(WEBHOOKS_PATH) == 0
