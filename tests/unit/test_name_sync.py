"""Copying a name to Twilio never blocks a sign-in: with Twilio unreachable (nothing listens
where it should be), the copy fails quietly and says so in the log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.support.waiting import free_port
from webapp import create_app
from webapp.config import Config
from webapp.models import User
from webapp.names import publish_name


def test_an_unreachable_twilio_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {
        "SECRET_KEY": "sync-test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}",
        "TWILIO_EMULATOR_URL": f"http://127.0.0.1:{free_port()}",
    }
    app = create_app(Config.from_env(env, require_service_sid=False))
    try:
        with app.app_context(), caplog.at_level(logging.WARNING):
            user = User(id=7, identity="42", display_name="Ada", password_hash="")
            assert publish_name(user) is False
            assert publish_name(User(identity="43", password_hash="")) is True  # no name
        assert "sent again at the next sign-in" in caplog.text
    finally:
        app.extensions["parley"].broker.close()
