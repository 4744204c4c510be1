"""A request that finds no free database connection within the pool's timeout gets a 503 it
can retry (JSON for scripts, a page for people), never a 500; a stream opening is asked to come
back instead, since ``EventSource`` gives up for good on anything but 200."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from webapp import create_app
from webapp.config import Config
from webapp.extensions import db
from webapp.models import User


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """One database connection per worker, waited for 0.2 s: easy to use up for real."""
    env = {"SECRET_KEY": "busy-test", "DATABASE_URL": f"sqlite:///{tmp_path / 'busy.db'}"}
    config = Config.from_env(
        env, require_service_sid=False, DB_POOL_SIZE=1, DB_POOL_OVERFLOW=0, DB_POOL_TIMEOUT=0.2
    )
    app = create_app(config)
    with app.app_context():
        db.create_all()
        alice = User.password_account("alice")
        alice.set_password("not-used-here")
        db.session.add(alice)
        db.session.commit()
    yield app
    app.extensions["parley"].broker.close()


@pytest.fixture
def alice(app: Flask) -> FlaskClient:
    client = app.test_client()
    with app.app_context():
        user = User.by_username("alice")
        assert user is not None
        session_id = user.get_id()
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        session["_fresh"] = True
    return client


def test_no_free_database_connection_is_a_503_to_retry_never_a_500(
    app: Flask, alice: FlaskClient
) -> None:
    with app.app_context():
        held = db.engine.connect()  # the pool's only connection
        try:
            api = alice.get("/api/users")
            page = alice.get("/")
            stream = alice.get("/stream")
        finally:
            held.close()
    assert api.status_code == 503
    assert api.get_json()["error"]["code"] == "busy"
    assert api.headers["Retry-After"].isdigit()
    assert page.status_code == 503 and page.headers["Retry-After"].isdigit()
    assert stream.status_code == 200
    body = stream.get_data(as_text=True)
    assert "event: reconnect" in body and "retry: " in body and ": busy" in body
    assert alice.get("/api/users").status_code == 200  # and served again once one is free


def test_an_opening_whose_user_is_cached_needs_no_database_connection(
    app: Flask, alice: FlaskClient
) -> None:
    """A deploy's wave: a tab's stream is open (its session's user cached), another tab of the
    session reconnects while every database connection is taken. It opens all the same; its
    slot is the openings' own, not one of the pool's."""
    services = app.extensions["parley"]
    assert services.admission.limit == app.extensions["parley"].config.STREAM_OPENINGS_IN_FLIGHT
    assert services.admission.limit > 1  # the pool's one connection does not size it
    # Flask-Login's first answer adds the session's identifier: the lean path reads it after.
    alice.get("/stream", buffered=False).close()
    first = alice.get("/stream", buffered=False)
    try:
        assert next(iter(first.response)).startswith(b"retry:")  # its user is cached now
        with app.app_context():
            held = db.engine.connect()  # the pool's only connection
            try:
                second = alice.get("/stream", buffered=False)
                try:
                    pieces = iter(second.response)
                    opened = next(pieces) + next(pieces)
                finally:
                    second.close()
            finally:
                held.close()
    finally:
        first.close()
    assert second.status_code == 200
    assert b": connected" in opened and b"busy" not in opened


def test_a_removal_whose_mute_cannot_be_dropped_still_goes_out(app: Flask) -> None:
    """Dropping a leaver's mute is housekeeping: with no database connection to be had, the
    removal webhook must not fail for it (it is logged, and the mute stays until turned off)."""
    services = app.extensions["parley"]
    with app.app_context():
        held = db.engine.connect()  # the pool's only connection
        try:
            services.mutes.forget_member("bob", "CH" + "0" * 32)  # no error raised
        finally:
            held.close()
