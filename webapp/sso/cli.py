"""``flask --app wsgi sso token SUB``: a valid sign-in token, for trying the hand-over by hand."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from webapp.sso import current_rules
from webapp.sso.tokens import LOGOUT_PURPOSE

sso_cli = AppGroup("sso", help="Sign-in handed over by a host site.")


@sso_cli.command("token")
@click.argument("sub")
@click.option("--name", help="Display name (the token's `name` claim).")
@click.option("--next", "next_path", help="Path on Parley to land on, e.g. /c/CH...")
@click.option("--logout", is_flag=True, help="A back-channel logout token instead.")
def make_token(sub: str, name: str | None, next_path: str | None, logout: bool) -> None:
    """Print a token for user SUB, valid for 60 s and once, as the host's endpoint makes it.

    POST it as the form field `token` to /sso/login (or /sso/logout with --logout).
    """
    rules = current_rules()
    if rules is None:
        raise click.ClickException(
            "SSO is not configured: set PARLEY_SSO_SECRET and PARLEY_SSO_ISSUER."
        )
    try:
        token = rules.issue(
            sub, name=name, next_path=next_path, purpose=LOGOUT_PURPOSE if logout else None
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(token)
