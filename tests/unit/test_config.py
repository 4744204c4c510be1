"""Config comes from the environment, once, and says clearly what is wrong."""

from __future__ import annotations

import pytest

from twilio_emulator.credentials import EMULATOR_ACCOUNT_SID, EMULATOR_AUTH_TOKEN
from webapp.config import Config, ConfigError

LIVE = {
    "TWILIO_ACCOUNT_SID": "AC" + "a" * 32,
    "TWILIO_AUTH_TOKEN": "b" * 32,
    "TWILIO_API_KEY_SID": "SK" + "c" * 32,
    "TWILIO_API_KEY_SECRET": "d" * 32,
    "TWILIO_CONVERSATIONS_SERVICE_SID": "IS" + "e" * 32,
}


def test_no_twilio_account_means_the_in_process_emulator() -> None:
    config = Config.from_env({})
    assert not config.LIVE_TWILIO
    assert config.TWILIO_ACCOUNT_SID == EMULATOR_ACCOUNT_SID
    assert config.TWILIO_AUTH_TOKEN == EMULATOR_AUTH_TOKEN
    assert config.emulator_in_process
    assert config.emulator_origin == "http://127.0.0.1:5000/_emulator"
    assert config.webhook_url == "http://127.0.0.1:5000/twilio/webhook"
    assert config.REDIS_URL is None


def test_emulator_signs_with_the_configured_auth_token() -> None:
    config = Config.from_env({"TWILIO_AUTH_TOKEN": "my-token"})
    assert config.TWILIO_AUTH_TOKEN == "my-token"


def test_standalone_emulator_url_is_used_as_is() -> None:
    config = Config.from_env({"TWILIO_EMULATOR_URL": "http://127.0.0.1:4010/"})
    assert not config.emulator_in_process
    assert config.emulator_origin == "http://127.0.0.1:4010"


def test_live_mode_uses_twilio_and_needs_every_variable() -> None:
    config = Config.from_env(LIVE)
    assert config.LIVE_TWILIO and config.emulator_origin is None
    for name in LIVE:
        if name == "TWILIO_ACCOUNT_SID":
            continue
        partial = {k: v for k, v in LIVE.items() if k != name}
        with pytest.raises(ConfigError, match=name):
            Config.from_env(partial)


def test_live_mode_rejects_a_malformed_sid() -> None:
    with pytest.raises(ConfigError, match="TWILIO_CONVERSATIONS_SERVICE_SID"):
        Config.from_env({**LIVE, "TWILIO_CONVERSATIONS_SERVICE_SID": "CH123"})


def test_heroku_postgres_url_is_accepted() -> None:
    config = Config.from_env({"DATABASE_URL": "postgres://u:p@db.example:5432/parley"})
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u:p@db.example:5432/parley"


def test_production_requires_a_secret_key() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Config.from_env({"PARLEY_ENV": "production"})
    config = Config.from_env({"PARLEY_ENV": "production", "SECRET_KEY": "s" * 40})
    assert config.SESSION_COOKIE_SECURE


def test_secret_key_never_defaults_to_a_constant() -> None:
    assert Config.from_env({}).SECRET_KEY != Config.from_env({}).SECRET_KEY


def test_public_base_url_and_port() -> None:
    config = Config.from_env({"PORT": "8000", "HOST": "0.0.0.0"})
    assert config.webhook_url == "http://127.0.0.1:8000/twilio/webhook"
    config = Config.from_env({"PUBLIC_BASE_URL": "https://chat.example.com/"})
    assert config.webhook_url == "https://chat.example.com/twilio/webhook"
    with pytest.raises(ConfigError, match="PORT"):
        Config.from_env({"PORT": "eighty"})


def test_phone_number_must_be_e164() -> None:
    with pytest.raises(ConfigError, match="TWILIO_PHONE_NUMBER"):
        Config.from_env({"TWILIO_PHONE_NUMBER": "555-1234"})
    assert Config.from_env({"TWILIO_PHONE_NUMBER": "+15551234567"}).TWILIO_PHONE_NUMBER


def test_session_lifetime_is_hours_and_reaches_flask() -> None:
    assert Config.from_env({}).PERMANENT_SESSION_LIFETIME.days == 14
    assert (
        Config.from_env({"SESSION_LIFETIME_HOURS": "1.5"}).PERMANENT_SESSION_LIFETIME.seconds
        == 5400
    )
    for bad in ("0", "-3", "two weeks", "nan", "inf"):
        with pytest.raises(ConfigError, match="SESSION_LIFETIME_HOURS"):
            Config.from_env({"SESSION_LIFETIME_HOURS": bad})


def test_media_goes_to_twilios_mcs_live_and_to_the_emulators_otherwise() -> None:
    assert Config.from_env(LIVE).mcs_url == "https://mcs.us1.twilio.com"
    assert Config.from_env({}).mcs_url == "http://127.0.0.1:5000/_emulator/mcs"
    standalone = Config.from_env({"TWILIO_EMULATOR_URL": "http://127.0.0.1:4010/"})
    assert standalone.mcs_url == "http://127.0.0.1:4010/mcs"
    chosen = Config.from_env({**LIVE, "TWILIO_MCS_URL": "https://mcs.example.com/"})
    assert chosen.mcs_url == "https://mcs.example.com"
    with pytest.raises(ConfigError, match="TWILIO_MCS_URL"):
        Config.from_env({"TWILIO_MCS_URL": "mcs.us1.twilio.com"})


def test_media_limit_is_bytes_up_to_twilios_150_mb() -> None:
    assert Config.from_env({}).MEDIA_MAX_BYTES == 20 * 1024 * 1024
    assert Config.from_env({"MEDIA_MAX_BYTES": "157286400"}).MEDIA_MAX_BYTES == 157286400
    for bad in ("0", "-1", "157286401", "20MB", "1e6", "9" * 5000):
        with pytest.raises(ConfigError, match="MEDIA_MAX_BYTES"):
            Config.from_env({"MEDIA_MAX_BYTES": bad})
