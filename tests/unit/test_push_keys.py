"""VAPID keys: the pair `flask push keys` prints is what the config and the sender take, and
half a pair, or halves of two pairs, stop start-up with a sentence naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.push_service import unb64url
from webapp import create_app
from webapp.config import Config, ConfigError
from webapp.push.keys import VapidKeyError, generate_keys, load_vapid
from webapp.push.sender import topic_for


def _config(**env: str) -> Config:
    return Config.from_env({"SECRET_KEY": "k", **env}, require_service_sid=False)


def test_a_generated_pair_is_accepted_and_loads() -> None:
    public, private = generate_keys()
    assert len(unb64url(public)) == 65 and len(unb64url(private)) == 32
    config = _config(PARLEY_VAPID_PUBLIC_KEY=public, PARLEY_VAPID_PRIVATE_KEY=private)
    assert config.push_enabled
    assert config.PARLEY_VAPID_SUBJECT == config.PUBLIC_BASE_URL
    load_vapid(public, private)


def test_no_keys_no_push() -> None:
    assert not _config().push_enabled


def test_half_a_pair_is_refused() -> None:
    public, _ = generate_keys()
    with pytest.raises(ConfigError, match="go together"):
        _config(PARLEY_VAPID_PUBLIC_KEY=public)


@pytest.mark.parametrize("public", ["not-a-key", "AAAA", "CA" + "A" * 85])
def test_a_public_key_of_the_wrong_shape_is_refused(public: str) -> None:
    _, private = generate_keys()
    with pytest.raises(ConfigError, match="PARLEY_VAPID_PUBLIC_KEY"):
        _config(PARLEY_VAPID_PUBLIC_KEY=public, PARLEY_VAPID_PRIVATE_KEY=private)


def test_halves_of_two_pairs_are_refused() -> None:
    public, _ = generate_keys()
    _, private = generate_keys()
    with pytest.raises(VapidKeyError, match="not the public half"):
        load_vapid(public, private)
    assert issubclass(VapidKeyError, ConfigError)


def test_a_bad_subject_is_refused() -> None:
    public, private = generate_keys()
    with pytest.raises(ConfigError, match="SUBJECT"):
        _config(
            PARLEY_VAPID_PUBLIC_KEY=public,
            PARLEY_VAPID_PRIVATE_KEY=private,
            PARLEY_VAPID_SUBJECT="ops@example.com",
        )


def test_topics_are_what_push_services_take() -> None:
    topic = topic_for("CH" + "a" * 32)
    assert len(topic) == 32 and topic.replace("-", "").replace("_", "").isalnum()
    assert topic != topic_for("CH" + "b" * 32)


def test_the_keys_command_prints_a_pair_the_config_takes(tmp_path: Path) -> None:
    app = create_app(_config(DATABASE_URL=f"sqlite:///{tmp_path / 'p.sqlite3'}"))
    try:
        output = app.test_cli_runner().invoke(args=["push", "keys"]).output
    finally:
        app.extensions["parley"].broker.close()
    env = dict(line.split("=", 1) for line in output.splitlines() if line.startswith("PARLEY_"))
    assert set(env) == {"PARLEY_VAPID_PUBLIC_KEY", "PARLEY_VAPID_PRIVATE_KEY"}
    assert _config(**env).push_enabled
    load_vapid(env["PARLEY_VAPID_PUBLIC_KEY"], env["PARLEY_VAPID_PRIVATE_KEY"])
