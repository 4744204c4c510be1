"""The mute service on a real (SQLite) database: a timed mute ends by itself, muting again
replaces the end, and the webhook path asks about many recipients in one call."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from webapp import create_app
from webapp.config import Config
from webapp.extensions import db
from webapp.people.mutes import Mutes

SID = "CH" + "1" * 32
OTHER = "CH" + "2" * 32


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    env = {"SECRET_KEY": "mutes-test", "DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}"}
    app = create_app(Config.from_env(env, require_service_sid=False))
    with app.app_context():
        db.create_all()
        yield app
    app.extensions["parley"].broker.close()


def test_an_hour_long_mute_ends_by_itself(app: Flask) -> None:
    clock = Clock()
    mutes = Mutes(clock)
    mutes.mute("bob", SID, mutes.until_for("hour"))

    assert mutes.is_muted("bob", SID)
    mute = mutes.muted_until("bob", SID)
    assert mute is not None and mute.to_json() == {"until": "2026-12-06T13:00:00Z"}
    assert not mutes.is_muted("alice", SID) and not mutes.is_muted("bob", OTHER)

    clock.now += timedelta(minutes=59)
    assert mutes.is_muted("bob", SID)
    clock.now += timedelta(minutes=1)
    assert not mutes.is_muted("bob", SID)
    assert mutes.of("bob") == {}


def test_until_turned_off_lasts_and_muting_again_replaces_the_end(app: Flask) -> None:
    clock = Clock()
    mutes = Mutes(clock)
    mutes.mute("bob", SID, mutes.until_for("day"))
    mutes.mute("bob", SID, mutes.until_for("forever"))

    clock.now += timedelta(days=400)
    assert mutes.muted_until("bob", SID) is not None
    assert mutes.of("bob")[SID].to_json() == {"until": None}

    mutes.unmute("bob", SID)
    assert not mutes.is_muted("bob", SID)
    mutes.unmute("bob", SID)  # already off: nothing to do, no error


def test_muted_among_answers_for_a_messages_recipients_at_once(app: Flask) -> None:
    clock = Clock()
    mutes = Mutes(clock)
    mutes.mute("bob", SID, None)
    mutes.mute("carol", SID, mutes.until_for("hour"))
    mutes.mute("dave", SID, clock.now - timedelta(seconds=1))  # already over
    mutes.mute("erin", OTHER, None)

    assert mutes.muted_among(["alice", "bob", "carol", "dave", "erin"], SID) == {"bob", "carol"}
    assert mutes.muted_among([], SID) == set()


def test_ended_mutes_are_cleared_once_and_the_rest_kept(app: Flask) -> None:
    clock = Clock()
    mutes = Mutes(clock)
    mutes.mute("bob", SID, mutes.until_for("hour"))
    mutes.mute("bob", OTHER, None)
    mutes.mute("carol", SID, mutes.until_for("hour"))
    assert mutes.clear_ended("bob") == []

    clock.now += timedelta(hours=2)

    assert mutes.clear_ended("bob") == [SID]
    assert mutes.clear_ended("bob") == []
    assert set(mutes.of("bob")) == {OTHER}
    assert mutes.clear_ended("carol") == [SID]
