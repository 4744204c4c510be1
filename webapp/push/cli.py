"""``flask push keys``: a VAPID key pair for ``PARLEY_VAPID_*``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from webapp.push.keys import generate_keys

push_cli = AppGroup("push", help="Web Push notifications.")


@push_cli.command("keys")
def keys_command() -> None:
    """Print a new VAPID key pair as environment variables.

    Keep the pair for good: browsers subscribed with the public key, and a new pair makes
    every existing subscription useless (people turn push on again)."""
    public, private = generate_keys()
    click.echo(f"PARLEY_VAPID_PUBLIC_KEY={public}")
    click.echo(f"PARLEY_VAPID_PRIVATE_KEY={private}")
    click.echo("# and PARLEY_VAPID_SUBJECT=mailto:you@example.com (a contact for push services)")
