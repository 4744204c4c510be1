"""The deployment-facing settings: Heroku Redis's TLS, the metrics token, service-less live
mode for the set-up commands."""

from __future__ import annotations

import pytest

from webapp.config import Config, ConfigError

LIVE = {
    "TWILIO_ACCOUNT_SID": "AC" + "a" * 32,
    "TWILIO_AUTH_TOKEN": "b" * 32,
    "TWILIO_API_KEY_SID": "SK" + "c" * 32,
    "TWILIO_API_KEY_SECRET": "d" * 32,
}


def test_heroku_redis_self_signed_certificate_can_be_accepted() -> None:
    url = "rediss://:pw@ec2.example:6380"
    assert Config.from_env({"REDIS_URL": url}).REDIS_URL == url
    relaxed = Config.from_env({"REDIS_URL": url, "REDIS_VERIFY_TLS": "0"})
    assert relaxed.REDIS_URL == url + "?ssl_cert_reqs=none"
    plain = Config.from_env({"REDIS_URL": "redis://h:6379/0", "REDIS_VERIFY_TLS": "0"})
    assert plain.REDIS_URL == "redis://h:6379/0"


def test_metrics_token_is_optional() -> None:
    assert Config.from_env({}).METRICS_TOKEN is None
    assert Config.from_env({"METRICS_TOKEN": "t" * 20}).METRICS_TOKEN == "t" * 20


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        Config.from_env({"LOG_FORMAT": "xml"})


def test_live_mode_without_a_service_is_enough_for_commands_but_not_for_serving() -> None:
    with pytest.raises(ConfigError, match="TWILIO_CONVERSATIONS_SERVICE_SID"):
        Config.from_env(LIVE)
    config = Config.from_env(LIVE, require_service_sid=False)
    assert config.TWILIO_CONVERSATIONS_SERVICE_SID == ""
    with pytest.raises(ConfigError, match="twilio setup"):
        config.check_can_serve(workers=1)


def test_one_worker_needs_nothing_more() -> None:
    Config.from_env({}).check_can_serve(workers=1)
