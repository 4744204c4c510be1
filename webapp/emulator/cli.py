"""`flask emulator ...`: serve the Twilio emulator standalone, or play a phone texting it.

The lead registers the group with `app.cli.add_command(emulator_cli)`.
"""

from __future__ import annotations

import click
import requests
from flask import current_app
from flask.cli import AppGroup
from werkzeug.serving import run_simple

from webapp.emulator import create_emulator_app
from webapp.emulator.credentials import EMULATOR_AUTH_TOKEN
from webapp.emulator.settings import EmulatorSettings, settings_from_parley_config

emulator_cli = AppGroup(
    "emulator", help="The local Twilio Conversations emulator: run it, text it, read its outbox."
)


@emulator_cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=4010, show_default=True, type=int)
@click.option(
    "--persist",
    "persist_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Keep conversations, messages and settings in this SQLite file across restarts.",
)
def run(host: str, port: int, persist_path: str | None) -> None:
    """Serve the emulator on its own port, posting webhooks to this Parley's /twilio/webhook."""
    settings = settings_from_parley_config(current_app.config, persist_path)
    _print_credentials(settings, f"http://{host}:{port}")
    run_simple(host, port, create_emulator_app(settings), threaded=True)


def _print_credentials(settings: EmulatorSettings, origin: str) -> None:
    click.echo(f"Twilio Conversations emulator at {origin}")
    click.echo(f"  account SID  {settings.account_sid}")
    click.echo(f"  auth token   {settings.auth_token}")
    click.echo(f"  service SID  {settings.service_sid}")
    click.echo(f"  API key      {settings.api_key_sid} / {settings.api_key_secret}")
    click.echo(f"  webhooks to  {settings.post_webhook_url}")
    click.echo(f"  state kept   {settings.persist_path or 'in memory only (use --persist FILE)'}")
    click.echo(f"Set TWILIO_EMULATOR_URL={origin} for `flask emulator sms` and Parley.")


def _emulator_url() -> str:
    """Where the emulator answers: TWILIO_EMULATOR_URL, else the in-process one inside the
    running Parley server."""
    url = current_app.config.get("TWILIO_EMULATOR_URL")
    if url:
        return str(url).rstrip("/")
    port = current_app.config.get("PORT", 5000)
    url = f"http://127.0.0.1:{port}/_emulator"
    click.echo(
        "TWILIO_EMULATOR_URL is not set. The in-process emulator lives inside the running "
        "Parley server, at http://127.0.0.1:<PORT>/_emulator; trying " + url,
        err=True,
    )
    return url


def _emulator_request(method: str, path: str, data: dict[str, str] | None = None) -> object:
    url = _emulator_url() + path
    token = current_app.config.get("TWILIO_AUTH_TOKEN") or EMULATOR_AUTH_TOKEN
    auth = (EmulatorSettings().account_sid, token)
    try:
        response = requests.request(method, url, data=data, auth=auth, timeout=10)
    except requests.RequestException as exc:
        raise click.ClickException(f"Cannot reach the emulator at {url}: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        raise click.ClickException(
            f"{url} answered {response.status_code} without JSON: is it the emulator?"
        ) from None
    if not response.ok:
        raise click.ClickException(f"{body.get('message')} (Twilio error {body.get('code')})")
    return body


@emulator_cli.command("sms")
@click.option("--from", "sender", required=True, help="The texting phone, E.164 (+15551234567).")
@click.option("--to", "target", required=True, help="Conversation SID or unique name.")
@click.option("--body", required=True, help="The text.")
def sms(sender: str, target: str, body: str) -> None:
    """Text a conversation from a phone participant, as an inbound SMS would arrive."""
    message = _emulator_request("POST", "/_dev/sms", {"From": sender, "To": target, "Body": body})
    assert isinstance(message, dict)
    click.echo(
        f"Message {message['sid']} (index {message['index']}) from {sender} "
        f"added to {message['conversation_sid']}"
    )


@emulator_cli.command("outbox")
def outbox() -> None:
    """List the SMS the emulator 'sent' to phone participants."""
    body = _emulator_request("GET", "/_dev/outbox")
    assert isinstance(body, dict)
    for sms in body["messages"]:
        click.echo(f"{sms['date_created']}  {sms['from']} -> {sms['to']}  [{sms['status']}]")
        click.echo(f"    {sms['body']}")
