"""``flask --app wsgi ...`` commands: the database and users (the emulator has its own group)."""

from __future__ import annotations

import secrets

import click
from flask.cli import AppGroup, with_appcontext

from webapp.extensions import db
from webapp.models import USERNAME_PATTERN, User
from webapp.services import get_services

DEMO_USERS = ("alice", "bob", "carol")

users_cli = AppGroup("users", help="Manage Parley users.")


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create Parley's tables if they do not exist yet."""
    db.create_all()
    click.echo("Database ready.")


def _save_user(username: str, password: str) -> bool:
    """Create the user, or reset the password of an existing one; True when created."""
    user = User.by_username(username)
    created = user is None
    if user is None:
        user = User(username=username)
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
