"""The name resolver: Parley's table first, then Twilio's User ``friendly_name`` (asked once
per identity for a while, a bounded number per page), else the identity; phones stay numbers.

Twilio is the one outside system here; these tests give the resolver a lookup function in its
place to count the calls (the integration tests ask the emulator over HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from webapp import create_app
from webapp.config import Config
from webapp.extensions import db
from webapp.models import User
from webapp.names.resolver import TWILIO_LOOKUPS_PER_CALL, TWILIO_TTL_SECONDS, NameResolver
from webapp.twilio_gateway import GatewayError


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    env = {"SECRET_KEY": "names-test", "DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}"}
    app = create_app(Config.from_env(env, require_service_sid=False))
    with app.app_context():
        db.create_all()
        db.session.add(User(identity="42", display_name="Ada", password_hash=""))
        db.session.add(User(identity="43", display_name=None, password_hash=""))
        db.session.add(User(identity="alice", username="alice", password_hash="x"))
        db.session.commit()
        yield app
    app.extensions["parley"].broker.close()


class Twilio:
    """What the host set in Twilio, and who was asked about."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.asked: list[str] = []
        self.down = False

    def __call__(self, identity: str) -> str | None:
        self.asked.append(identity)
        if self.down:
            raise GatewayError("no answer", 503)
        return self.names.get(identity)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_table_names_first_then_twilio_else_the_identity(app: Flask) -> None:
    twilio = Twilio({"42": "Twilio's Ada", "43": "Grace", "44": "Linus"})
    asked = ["42", "43", "44", "45", "alice", "+15551234567", None, "42"]
    names = NameResolver(twilio).names(asked)
    assert names == {"42": "Ada", "43": "Grace", "44": "Linus", "45": "45", "alice": "alice"}
    # Not the named one, not a password account (its username is its name), not the phone.
    assert sorted(twilio.asked) == ["43", "44", "45"]


def test_twilio_is_asked_once_per_identity_until_its_answers_are_old(app: Flask) -> None:
    twilio, clock = Twilio({"44": "Linus"}), Clock()
    resolver = NameResolver(twilio, clock=clock)
    for _ in range(3):
        assert resolver.names(["44", "45"]) == {"44": "Linus", "45": "45"}
    assert sorted(twilio.asked) == ["44", "45"]  # a miss is remembered too
    twilio.names["44"] = "Linus T."
    clock.now += TWILIO_TTL_SECONDS + 1
    assert resolver.names(["44"]) == {"44": "Linus T."}


def test_a_name_changed_here_is_shown_at_once(app: Flask) -> None:
    twilio = Twilio({})
    resolver = NameResolver(twilio)
    assert resolver.names(["43"]) == {"43": "43"}
    user = User.by_identity("43")
    assert user is not None
    user.display_name = "Grace"
    db.session.commit()
    assert resolver.names(["43"]) == {"43": "Grace"}  # the table is read every time


def test_forget_makes_twilio_asked_again(app: Flask) -> None:
    twilio = Twilio({"44": "Linus"})
    resolver = NameResolver(twilio)
    resolver.names(["44"])
    resolver.forget("44")
    resolver.names(["44"])
    assert twilio.asked == ["44", "44"]


def test_twilio_down_shows_identities_and_asks_again_next_time(app: Flask) -> None:
    twilio = Twilio({"44": "Linus"})
    resolver = NameResolver(twilio)
    twilio.down = True
    assert resolver.names(["44"]) == {"44": "44"}
    twilio.down = False
    assert resolver.names(["44"]) == {"44": "Linus"}


def test_one_page_asks_twilio_about_a_bounded_number_of_people(app: Flask) -> None:
    twilio = Twilio({})
    many = [f"p{n:03}" for n in range(TWILIO_LOOKUPS_PER_CALL * 2 + 5)]
    resolver = NameResolver(twilio)
    assert resolver.names(many) == {p: p for p in many}  # every one answered, named or not
    assert len(twilio.asked) == TWILIO_LOOKUPS_PER_CALL
    resolver.names(many)
    assert len(twilio.asked) == TWILIO_LOOKUPS_PER_CALL * 2  # the next page asks the next ones
