"""`flask twilio doctor` finds each way a deployment's Twilio set-up can be wrong, says how to
fix it, and exits non-zero; a correct set-up passes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.ops.conftest import RunningEmulator, ServedParley, parley_config
from tests.support.waiting import free_port
from webapp import create_app

StartEmulator = Callable[..., RunningEmulator]
ServeParley = Callable[..., ServedParley]


def cli(tmp_path: Path, *args: str, **env: str) -> Any:
    app = create_app(parley_config(tmp_path, **env))
    return app.test_cli_runner().invoke(args=list(args))


def set_up(tmp_path: Path, emulator: RunningEmulator, public_url: str) -> None:
    result = cli(
        tmp_path,
        "twilio",
        "setup",
        "--public-url",
        public_url,
        TWILIO_EMULATOR_URL=emulator.url,
    )
    assert result.exit_code == 0, result.output


def doctor(tmp_path: Path, emulator: RunningEmulator, public_url: str, **env: str) -> Any:
    return cli(
        tmp_path,
        "twilio",
        "doctor",
        TWILIO_EMULATOR_URL=emulator.url,
        PUBLIC_BASE_URL=public_url,
        **env,
    )


def test_a_correct_setup_passes_every_check(
    tmp_path: Path, start_emulator: StartEmulator, serve_parley: ServeParley
) -> None:
    emulator = start_emulator()
    parley = serve_parley(TWILIO_EMULATOR_URL=emulator.url)
    set_up(tmp_path, emulator, parley.url)

    result = doctor(tmp_path, emulator, parley.url)

    assert result.exit_code == 0, result.output
    for check in (
        "account credentials",
        "API key",
        "Conversations service",
        "webhook URL",
        "webhook filters",
        "webhook endpoint",
        "webhook signature",
    ):
        assert f"ok       {check}:" in result.output
    assert "All checks passed" in result.output


def test_a_webhook_pointing_elsewhere_is_a_problem_with_the_setup_command_as_fix(
    tmp_path: Path, start_emulator: StartEmulator, serve_parley: ServeParley
) -> None:
    emulator = start_emulator(post_webhook_url="https://old-app.example.com/hook")
    parley = serve_parley(TWILIO_EMULATOR_URL=emulator.url)

    result = doctor(tmp_path, emulator, parley.url)

    assert result.exit_code == 1
    assert "PROBLEM  webhook URL: Twilio posts events to https://old-app.example.com/hook" in (
        result.output
    )
    assert f"fix: Run `flask --app wsgi twilio setup --public-url {parley.url}`" in result.output


def test_missing_filters_are_named(
    tmp_path: Path, start_emulator: StartEmulator, serve_parley: ServeParley
) -> None:
    emulator = start_emulator()
    parley = serve_parley(TWILIO_EMULATOR_URL=emulator.url)
    set_up(tmp_path, emulator, parley.url)
    emulator.client().conversations.v1.services(
        emulator.state.settings.service_sid
    ).configuration.webhooks().update(filters=["onMessageAdded"])

    result = doctor(tmp_path, emulator, parley.url)

    assert result.exit_code == 1
    assert "PROBLEM  webhook filters: Twilio does not send onConversationRemoved" in result.output


def test_wrong_credentials_stop_the_checks_with_a_plain_explanation(
    tmp_path: Path, start_emulator: StartEmulator
) -> None:
    emulator = start_emulator()

    result = doctor(tmp_path, emulator, "https://x.example", TWILIO_AUTH_TOKEN="another-token")

    assert result.exit_code == 1
    assert "PROBLEM  account credentials:" in result.output
    assert "fix: Copy the Account SID and Auth Token again" in result.output
    assert "webhook URL" not in result.output  # nothing further is checked


def test_a_refused_api_key_is_a_problem(
    tmp_path: Path, start_emulator: StartEmulator, serve_parley: ServeParley
) -> None:
    emulator = start_emulator(api_key_secret="a-different-secret")
    parley = serve_parley(TWILIO_EMULATOR_URL=emulator.url)
    set_up(tmp_path, emulator, parley.url)

    result = doctor(tmp_path, emulator, parley.url)

    assert result.exit_code == 1
    assert "PROBLEM  API key:" in result.output


def test_a_server_that_rejects_twilios_signature_is_explained(
    tmp_path: Path, start_emulator: StartEmulator, serve_parley: ServeParley
) -> None:
    emulator = start_emulator()
    # The web process verifies with another token than the one Twilio (and doctor) use.
    parley = serve_parley(TWILIO_EMULATOR_URL=emulator.url, TWILIO_AUTH_TOKEN="server-token")
    set_up(tmp_path, emulator, parley.url)

    result = doctor(tmp_path, emulator, parley.url)

    assert result.exit_code == 1
    assert "PROBLEM  webhook signature:" in result.output
    assert "TRUST_PROXY=1" in result.output


def test_an_unreachable_public_url_is_a_problem(
    tmp_path: Path, start_emulator: StartEmulator
) -> None:
    emulator = start_emulator()
    nowhere = f"http://127.0.0.1:{free_port()}"
    set_up(tmp_path, emulator, nowhere)

    result = doctor(tmp_path, emulator, nowhere)

    assert result.exit_code == 1
    assert "PROBLEM  webhook endpoint: could not reach" in result.output


def test_a_url_that_is_not_parley_is_a_problem(
    tmp_path: Path, start_emulator: StartEmulator
) -> None:
    emulator = start_emulator()
    # The emulator answers 404 at /twilio/webhook: some other site at PUBLIC_BASE_URL.
    set_up(tmp_path, emulator, emulator.url)

    result = doctor(tmp_path, emulator, emulator.url)

    assert result.exit_code == 1
    assert "does not point at Parley" in result.output
