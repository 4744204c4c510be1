"""Config comes from the environment, once, and says clearly what is wrong."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


@pytest.mark.parametrize(
    ("value", "on"), [(None, True), ("on", True), ("OFF", False), ("0", False)]
)
def test_the_directory_is_on_unless_turned_off(value: str | None, on: bool) -> None:
    env = {"PARLEY_DIRECTORY": value} if value is not None else {}
    assert Config.from_env(env).PARLEY_DIRECTORY is on


def test_a_directory_setting_that_is_neither_on_nor_off_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="PARLEY_DIRECTORY"):
        Config.from_env({"PARLEY_DIRECTORY": "sometimes"})


def test_embed_origins_are_normalised_and_listed_in_frame_ancestors() -> None:
    config = Config.from_env(
        {"PARLEY_EMBED_ORIGINS": " https://WWW.Example.com/ , http://localhost:8000,"}
    )
    assert config.PARLEY_EMBED_ORIGINS == ("https://www.example.com", "http://localhost:8000")
    assert config.frame_ancestors == "'self' https://www.example.com http://localhost:8000"
    assert Config.from_env({}).frame_ancestors == "'none'"


@pytest.mark.parametrize(
    "value",
    [
        "*",
        "https://*.example.com",
        "https://example.com/shop",
        "https://example.com?x=1",
        "example.com",
        "ftp://example.com",
        "https://example.com:0",
        "https://example.com:99999",
        "https://user@example.com",
        "'self'",
        "https://example.com; script-src *",
    ],
)
def test_an_embed_origin_that_is_not_an_origin_stops_start_up(value: str) -> None:
    with pytest.raises(ConfigError, match="PARLEY_EMBED_ORIGINS") as error:
        Config.from_env({"PARLEY_EMBED_ORIGINS": f"https://ok.example, {value}"})
    assert repr(value.strip()) in str(error.value)


def test_embedding_makes_the_session_cookie_work_in_a_cross_site_frame() -> None:
    config = Config.from_env({"PARLEY_EMBED_ORIGINS": "https://shop.example"})
    assert config.SESSION_COOKIE_SAMESITE == "None"
    assert config.SESSION_COOKIE_SECURE and config.SESSION_COOKIE_PARTITIONED
    plain = Config.from_env({})
    assert (plain.SESSION_COOKIE_SAMESITE, plain.SESSION_COOKIE_PARTITIONED) == ("Lax", False)


def test_embedding_needs_https_except_on_loopback() -> None:
    with pytest.raises(ConfigError, match="HTTPS"):
        Config.from_env(
            {
                "PARLEY_EMBED_ORIGINS": "https://shop.example",
                "PUBLIC_BASE_URL": "http://chat.example",
            }
        )
    for url in ("https://chat.example", "http://localhost:5000", "http://[::1]:5000"):
        env = {"PARLEY_EMBED_ORIGINS": "https://shop.example", "PUBLIC_BASE_URL": url}
        assert Config.from_env(env).PARLEY_EMBED_ORIGINS == ("https://shop.example",)


@given(st.text(max_size=80))
def test_any_embed_origins_value_is_accepted_as_origins_or_refused_by_name(value: str) -> None:
    try:
        origins = Config.from_env({"PARLEY_EMBED_ORIGINS": value}).PARLEY_EMBED_ORIGINS
    except ConfigError as error:
        assert "PARLEY_EMBED_ORIGINS" in str(error)
        return
    for origin in origins:
        scheme, rest = origin.split("://", 1)
        assert scheme in ("http", "https")
        assert not set(rest) & set("/*?#@; '\"\\")


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


def test_whatsapp_sender_is_e164_with_or_without_its_prefix() -> None:
    with pytest.raises(ConfigError, match="TWILIO_WHATSAPP_NUMBER"):
        Config.from_env({"TWILIO_WHATSAPP_NUMBER": "whatsapp:555"})
    for sender in ("+14155238886", "whatsapp:+14155238886"):
        config = Config.from_env({"TWILIO_WHATSAPP_NUMBER": sender})
        assert config.TWILIO_WHATSAPP_NUMBER == "+14155238886"
    assert Config.from_env({}).TWILIO_WHATSAPP_NUMBER is None


def test_the_event_logs_and_webhook_keys_are_bounded_as_configured() -> None:
    default = Config.from_env({})
    assert default.PARLEY_LOG_MAX_EVENTS == 1000
    assert default.PARLEY_LOG_MAX_AGE_SECONDS == 24 * 3600
    assert default.PARLEY_WEBHOOK_DEDUPE_SECONDS == 3600
    chosen = Config.from_env(
        {
            "PARLEY_LOG_MAX_EVENTS": "200",
            "PARLEY_LOG_MAX_AGE_SECONDS": "7200",
            "PARLEY_WEBHOOK_DEDUPE_SECONDS": "900",
        }
    )
    assert (chosen.PARLEY_LOG_MAX_EVENTS, chosen.PARLEY_LOG_MAX_AGE_SECONDS) == (200, 7200)
    assert chosen.PARLEY_WEBHOOK_DEDUPE_SECONDS == 900
    for name, bad in [
        ("PARLEY_LOG_MAX_EVENTS", "0"),
        ("PARLEY_LOG_MAX_EVENTS", "lots"),
        ("PARLEY_LOG_MAX_AGE_SECONDS", "-5"),
        ("PARLEY_LOG_MAX_AGE_SECONDS", "1e9"),
        ("PARLEY_WEBHOOK_DEDUPE_SECONDS", "59"),
        ("PARLEY_WEBHOOK_DEDUPE_SECONDS", "99999999999999999999"),
    ]:
        with pytest.raises(ConfigError, match=name):
            Config.from_env({name: bad})


def test_stream_openings_in_flight_are_their_own_setting_not_the_database_pools() -> None:
    assert Config.from_env({}).STREAM_OPENINGS_IN_FLIGHT == 32
    assert Config.from_env({"STREAM_OPENINGS_IN_FLIGHT": "200"}).STREAM_OPENINGS_IN_FLIGHT == 200
    for bad in ("0", "1001", "many", "-3"):
        with pytest.raises(ConfigError, match="STREAM_OPENINGS_IN_FLIGHT"):
            Config.from_env({"STREAM_OPENINGS_IN_FLIGHT": bad})
