"""``flask --app wsgi ...`` commands: the database, users, Twilio set-up and checks, and the
clean-up of unsent uploads (the emulator has its own group)."""

from __future__ import annotations

import re
import secrets

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from flask_migrate import upgrade

from twilio_emulator.cli import CommandDefaults, make_emulator_cli
from twilio_emulator.credentials import EMULATOR_AUTH_TOKEN
from webapp.api.uploads import UNSENT_KEPT, clean_unsent
from webapp.config import EMULATOR_MOUNT_PATH
from webapp.extensions import db
from webapp.models import USERNAME_PATTERN, User
from webapp.ops.doctor import Finding, run_checks
from webapp.services import get_services
from webapp.twilio_gateway import GatewayError
from webapp.twilio_gateway.service_setup import (
    SERVICE_NAME,
    UNREACHABLE,
    SetupResult,
    api_key_client,
    set_up_service,
    wanted_webhooks,
)
from webapp.webhooks.translate import SUBSCRIBED_EVENTS

DEMO_USERS = ("alice", "bob", "carol")

users_cli = AppGroup("users", help="Manage Parley users.")
twilio_cli = AppGroup("twilio", help="Set up and check Parley's Twilio Conversations service.")
media_cli = AppGroup("media", help="Photos and files kept in Twilio's Media Content Service.")


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Bring the database up to date: the same migrations as `flask db upgrade`."""
    upgrade()
    click.echo("Database ready.")


def _save_user(username: str, password: str) -> bool:
    """Create the user, or reset the password of an existing one; True when created."""
    user = User.by_username(username)
    created = user is None
    if user is None:
        if User.by_identity(username) is not None:
            raise click.ClickException(
                f"{username!r} is already the identity of a user the host site signs in."
            )
        user = User.password_account(username)
        db.session.add(user)
    user.set_password(password)
    db.session.commit()
    return created


@users_cli.command("create")
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_user(name: str, password: str) -> None:
    """Create user NAME (or set their password if they exist)."""
    username = name.strip().lower()
    if not USERNAME_PATTERN.fullmatch(username):
        raise click.BadParameter(
            "2–32 characters: lower-case letters, digits, '.', '_' or '-'.", param_hint="NAME"
        )
    if len(password) < 8:
        raise click.BadParameter("at least 8 characters.", param_hint="--password")
    created = _save_user(username, password)
    click.echo(f"User {username} {'created' if created else 'updated'}.")


@users_cli.command("demo")
def create_demo_users() -> None:
    """Create (or reset) the demo users alice, bob and carol, and print their password."""
    password = get_services().config.DEMO_PASSWORD or secrets.token_urlsafe(9)
    for name in DEMO_USERS:
        _save_user(name, password)
    click.echo(f"Demo users {', '.join(DEMO_USERS)} — password: {password}")


# -- media --------------------------------------------------------------------------------


@media_cli.command("clean")
def clean_media() -> None:
    """Delete uploads no message took within a day (a removed preview, a closed tab) from
    Twilio's Media Content Service. Run it hourly or daily (Heroku Scheduler); exits 1 when
    MCS could not be reached for some, which the next run retries."""
    result = clean_unsent(get_services().media)
    hours = int(UNSENT_KEPT.total_seconds() // 3600)
    click.echo(
        f"Unsent uploads older than {hours} h: {result.deleted} deleted, "
        f"{result.gone} already gone, {result.kept} left for the next run."
    )
    if result.kept:
        raise SystemExit(1)


# -- twilio -------------------------------------------------------------------------------

_FOUND_BY = {
    "config": "found by TWILIO_CONVERSATIONS_SERVICE_SID",
    "name": "found by its name",
    "created": "created",
}


@twilio_cli.command("setup")
@click.option(
    "--public-url",
    help="The app's public address, e.g. https://<app>.herokuapp.com [default: PUBLIC_BASE_URL]",
)
@click.option("--service-name", default=SERVICE_NAME, show_default=True, help="Service to find.")
def twilio_setup(public_url: str | None, service_name: str) -> None:
    """Find or create the Conversations service and point its webhook at this app.

    Safe to run again: what is already right is left alone.
    """
    services = get_services()
    config = services.config
    if config.emulator_in_process:
        raise click.ClickException(
            "The in-process emulator is set up by the server it lives in. `twilio setup` is for "
            "live Twilio (TWILIO_ACCOUNT_SID) or a standalone emulator (TWILIO_EMULATOR_URL)."
        )
    url = (public_url or config.PUBLIC_BASE_URL).rstrip("/")
    if not re.match(r"https?://[^/]+$", url):
        raise click.BadParameter(
            "an origin like https://<app>.herokuapp.com (no path).", param_hint="--public-url"
        )
    wanted = wanted_webhooks(url, SUBSCRIBED_EVENTS)
    try:
        result = set_up_service(
            services.gateway.client,
            config.TWILIO_CONVERSATIONS_SERVICE_SID or None,
            wanted,
            service_name,
        )
    except GatewayError as exc:
        if exc.status == UNREACHABLE:
            raise click.ClickException(
                f"Twilio could not be reached ({exc.message}): check the network, or "
                "TWILIO_EMULATOR_URL with the emulator."
            ) from exc
        raise click.ClickException(f"Twilio refused: {exc.message}") from exc
    _report_setup(result, service_name, url)


def _report_setup(result: SetupResult, service_name: str, url: str) -> None:
    how = _FOUND_BY[result.found_by]
    click.echo(f"Conversations service {result.service_sid} ({how}, name {service_name!r}).")
    if result.changes:
        click.echo("Changed:")
        for change in result.changes:
            click.echo(f"  - {change}")
    else:
        click.echo("Nothing to change: the webhook was already set up.")
    hooks = result.webhooks
    click.echo(f"Post-event webhook: {hooks.method} {hooks.url}")
    click.echo(f"Filters: {', '.join(sorted(hooks.filters))}")
    click.echo("")
    click.echo("Config values for the app (e.g. `heroku config:set NAME=value ...`):")
    click.echo(f"  TWILIO_CONVERSATIONS_SERVICE_SID={result.service_sid}")
    click.echo(f"  PUBLIC_BASE_URL={url}")
    click.echo("Then check everything with `flask --app wsgi twilio doctor`.")


_LABELS = {"ok": "ok", "warning": "warning", "problem": "PROBLEM"}


def _print_finding(finding: Finding) -> None:
    label = _LABELS[finding.severity]
    click.echo(f"{label:8} {finding.check}: {finding.detail}")
    if finding.fix and finding.severity != "ok":
        click.echo(f"{'':8} fix: {finding.fix}")


@twilio_cli.command("doctor")
def twilio_doctor() -> None:
    """Check credentials, service, webhook and the public URL; exit 1 on any problem."""
    services = get_services()
    config = services.config
    findings: list[Finding] = []
    for finding in run_checks(
        config, services.gateway.client, api_key_client(config), SUBSCRIBED_EVENTS
    ):
        _print_finding(finding)
        findings.append(finding)
    problems = sum(f.severity == "problem" for f in findings)
    warnings = sum(f.severity == "warning" for f in findings)
    if problems:
        click.echo(f"{problems} problem(s), {warnings} warning(s).")
        click.get_current_context().exit(1)
    click.echo(f"All checks passed ({warnings} warning(s)).")


def _emulator_defaults() -> CommandDefaults:
    """`flask emulator ...` follows this Parley: webhooks to its `/twilio/webhook`, signed with
    its auth token; the emulator at TWILIO_EMULATOR_URL, else the one inside its server."""
    config = current_app.config
    base = str(config["PUBLIC_BASE_URL"]).rstrip("/")
    url, note = config.get("TWILIO_EMULATOR_URL"), None
    if not url:
        url = f"http://127.0.0.1:{config.get('PORT', 5000)}{EMULATOR_MOUNT_PATH}"
        note = (
            "TWILIO_EMULATOR_URL is not set. The in-process emulator lives inside the running "
            f"Parley server, at http://127.0.0.1:<PORT>{EMULATOR_MOUNT_PATH}; trying {url}"
        )
    return CommandDefaults(
        auth_token=config.get("TWILIO_AUTH_TOKEN") or EMULATOR_AUTH_TOKEN,
        webhook_url=f"{base}/twilio/webhook",
        emulator_url=str(url),
        emulator_url_note=note,
    )


#: The emulator's own commands (`python -m twilio_emulator`), as `flask emulator ...`.
emulator_cli = make_emulator_cli(_emulator_defaults, AppGroup)
