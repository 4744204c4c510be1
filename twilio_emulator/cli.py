"""The emulator's commands: serve it, play a phone texting it, make a phone fail.

`python -m twilio_emulator run|sms|outbox` runs them alone, with the emulator's own defaults. A
host application offers them as `flask emulator ...` through `make_emulator_cli(defaults)`, so
that they follow its configuration (its webhook URL and auth token, where its emulator answers)
without the emulator knowing anything of that application.
"""

from __future__ import annotations

import mimetypes
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

import click
import requests
from werkzeug.serving import run_simple

from twilio_emulator import create_emulator_app
from twilio_emulator.credentials import EMULATOR_AUTH_TOKEN
from twilio_emulator.settings import EmulatorSettings

DEFAULT_PORT = 4010


@dataclass(frozen=True)
class CommandDefaults:
    """What the commands use where no flag says otherwise.

    `emulator_url_note`, when set, is printed (to stderr) whenever `sms` or `outbox` fall back
    on `emulator_url`, so a guessed address is never used silently.
    """

    auth_token: str = EMULATOR_AUTH_TOKEN
    webhook_url: str | None = None
    emulator_url: str = f"http://127.0.0.1:{DEFAULT_PORT}"
    emulator_url_note: str | None = None


_PERSIST_HELP = "Keep conversations, messages and settings in this SQLite file across restarts."
_WEBHOOK_HELP = "Where post-event webhooks go (default: the host application's, else none)."
_TOKEN_HELP = "The auth token: basic auth and webhook signatures (default: the emulator's)."
_MCS_HELP = "The public origin of its media service, for signed links (default: ORIGIN/mcs)."
_URL_HELP = "Where the emulator answers (default: the host application's, else local)."


def make_emulator_cli(
    defaults: Callable[[], CommandDefaults] = CommandDefaults,
    group_class: type[click.Group] = click.Group,
) -> click.Group:
    """The `emulator` command group. `defaults` is asked only when a command runs, so a host
    application can read its configuration then; with Flask's `AppGroup` as `group_class`,
    each command runs inside the host's app context."""
    group = group_class(
        "emulator",
        help="The local Twilio Conversations emulator: run it, text it, read its outbox.",
    )

    @group.command("run")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
    @click.option(
        "--persist",
        "persist_path",
        type=click.Path(dir_okay=False),
        default=None,
        help=_PERSIST_HELP,
    )
    @click.option("--webhook-url", default=None, help=_WEBHOOK_HELP)
    @click.option("--auth-token", default=None, help=_TOKEN_HELP)
    @click.option("--mcs-url", default=None, help=_MCS_HELP)
    def run(
        host: str,
        port: int,
        persist_path: str | None,
        webhook_url: str | None,
        auth_token: str | None,
        mcs_url: str | None,
    ) -> None:
        """Serve the emulator on its own port."""
        fallback = defaults()
        settings = EmulatorSettings(
            auth_token=auth_token or fallback.auth_token,
            post_webhook_url=webhook_url or fallback.webhook_url,
            persist_path=persist_path,
            mcs_url=mcs_url,
        )
        _print_credentials(settings, f"http://{host}:{port}")
        # Stopped by a signal, exit as on Ctrl-C, so the temporary media folder is removed.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        run_simple(host, port, create_emulator_app(settings), threaded=True)

    @group.command("sms")
    @click.option(
        "--from", "sender", required=True, help="The texting phone, E.164 (+15551234567)."
    )
    @click.option("--to", "target", required=True, help="Conversation SID or unique name.")
    @click.option("--body", default=None, help="The text (optional with --media).")
    @click.option(
        "--media",
        "media_paths",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False),
        help="A file sent as MMS media (repeatable).",
    )
    @click.option("--url", default=None, help=_URL_HELP)
    @click.option("--auth-token", default=None, help=_TOKEN_HELP)
    def sms(
        sender: str,
        target: str,
        body: str | None,
        media_paths: tuple[str, ...],
        url: str | None,
        auth_token: str | None,
    ) -> None:
        """Text a conversation from a phone participant, as an inbound SMS (or, with --media,
        MMS) would arrive."""
        if not body and not media_paths:
            raise click.UsageError("Give --body, --media or both.")
        caller = _Caller(defaults(), url, auth_token)
        media_sids = [caller.upload(path) for path in media_paths]
        data = {"From": sender, "To": target, "Body": body or "", "MediaSid": media_sids}
        message = caller.request("POST", "/_dev/sms", data)
        assert isinstance(message, dict)
        click.echo(
            f"Message {message['sid']} (index {message['index']}) from {sender} "
            f"added to {message['conversation_sid']}"
        )

    @group.command("sms-fail")
    @click.argument("number")
    @click.option(
        "--code",
        default=30006,
        show_default=True,
        type=click.IntRange(min=0),
        help="The Twilio error code its delivery receipts get; 0 delivers to it again.",
    )
    @click.option("--url", default=None, help=_URL_HELP)
    @click.option("--auth-token", default=None, help=_TOKEN_HELP)
    def sms_fail(number: str, code: int, url: str | None, auth_token: str | None) -> None:
        """Make texts to a phone participant fail, as a carrier would report."""
        data = {"Number": number, "Code": str(code)}
        _Caller(defaults(), url, auth_token).request("POST", "/_dev/sms-fail", data)
        if code:
            click.echo(f"Texts to {number} now fail with Twilio error {code}")
        else:
            click.echo(f"Texts to {number} are delivered again")

    @group.command("outbox")
    @click.option("--url", default=None, help=_URL_HELP)
    @click.option("--auth-token", default=None, help=_TOKEN_HELP)
    def outbox(url: str | None, auth_token: str | None) -> None:
        """List the SMS the emulator 'sent' to phone participants."""
        body = _Caller(defaults(), url, auth_token).request("GET", "/_dev/outbox")
        assert isinstance(body, dict)
        for sms in body["messages"]:
            error = f" error {sms['error_code']}" if sms.get("error_code") else ""
            click.echo(
                f"{sms['date_created']}  {sms['from']} -> {sms['to']}  [{sms['status']}{error}]"
            )
            if sms["body"]:
                click.echo(f"    {sms['body']}")
            for media in sms.get("media", []):
                name = media["filename"] or media["sid"]
                click.echo(f"    [MMS] {name} ({media['content_type']}, {media['size']} bytes)")

    return group


def _print_credentials(settings: EmulatorSettings, origin: str) -> None:
    click.echo(f"Twilio Conversations emulator at {origin}")
    click.echo(f"  account SID  {settings.account_sid}")
    click.echo(f"  auth token   {settings.auth_token}")
    click.echo(f"  service SID  {settings.service_sid}")
    click.echo(f"  API key      {settings.api_key_sid} / {settings.api_key_secret}")
    click.echo(f"  webhooks to  {settings.post_webhook_url or 'none set (use --webhook-url URL)'}")
    click.echo(f"  state kept   {settings.persist_path or 'in memory only (use --persist FILE)'}")
    click.echo(f"  media (MCS)  {settings.mcs_url or origin + '/mcs'}")
    click.echo(f"Set TWILIO_EMULATOR_URL={origin} for `flask emulator sms` and Parley.")


class _Caller:
    """One call to a running emulator's `/_dev` endpoints, its failures worded for a shell."""

    def __init__(self, defaults: CommandDefaults, url: str | None, auth_token: str | None):
        if not url and defaults.emulator_url_note:
            click.echo(defaults.emulator_url_note, err=True)
        self.url = (url or defaults.emulator_url).rstrip("/")
        self.auth = (EmulatorSettings().account_sid, auth_token or defaults.auth_token)

    def upload(self, path: str) -> str:
        """Put a file in the emulator's Media Content Service; its `ME…` SID."""
        service = EmulatorSettings().service_sid
        with open(path, "rb") as file:
            files = {"Media": (os.path.basename(path), file, _content_type(path))}
            media = self.request("POST", f"/mcs/v1/Services/{service}/Media", files=files)
        assert isinstance(media, dict)
        return str(media["sid"])

    def request(
        self,
        method: str,
        path: str,
        data: Mapping[str, str | Sequence[str]] | None = None,
        files: Mapping[str, tuple[str, IO[bytes], str]] | None = None,
    ) -> object:
        url = self.url + path
        try:
            response = requests.request(
                method, url, data=data, files=files, auth=self.auth, timeout=60
            )
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


def _content_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path)
    return guessed or "application/octet-stream"


#: The commands with the emulator's own defaults, as `python -m twilio_emulator` runs them.
emulator_cli = make_emulator_cli()
