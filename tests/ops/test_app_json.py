"""`app.json` (the Deploy to Heroku button), `.env.example` and the README name every setting."""

from __future__ import annotations

import json
import re

from tests.support.servers import ROOT

#: Read by Config but not asked for: set by the platform or add-ons, or local-only.
NOT_ASKED = {
    "HOST",
    "PORT",
    "DATABASE_URL",
    "REDIS_URL",
    "TWILIO_EMULATOR_URL",
    "TWILIO_EMULATOR_PERSIST",
    "DEMO_PASSWORD",
    "LOG_FORMAT",
}


def variables_config_reads() -> set[str]:
    source = (ROOT / "webapp" / "config.py").read_text()
    read = set(re.findall(r'env(?:\.get\(|\[)"([A-Z_]+)"', source))
    # ("NAME", pattern-or-default) pairs: the live Twilio variables and the login limits
    read |= set(re.findall(r'\("([A-Z_]+)", r?"', source))
    # whole-number settings: _whole_number(env, "NAME", default, low, high)
    read |= set(re.findall(r'_whole_number\(\s*env,\s*"([A-Z_]+)"', source))
    return read


def test_app_json_asks_for_every_setting_config_reads() -> None:
    app = json.loads((ROOT / "app.json").read_text())
    read = variables_config_reads()
    assert {"LOGIN_LIMIT_PER_IP", "TWILIO_API_KEY_SECRET", "REDIS_VERIFY_TLS"} <= read
    assert {"PARLEY_LOG_MAX_EVENTS", "PARLEY_WEBHOOK_DEDUPE_SECONDS"} <= read
    assert read - NOT_ASKED <= set(app["env"]), read - NOT_ASKED - set(app["env"])
    assert app["env"]["SECRET_KEY"]["generator"] == "secret"
    assert app["env"]["METRICS_TOKEN"]["generator"] == "secret"
    assert app["env"]["PARLEY_ENV"]["value"] == "production"
    assert app["env"]["TRUST_PROXY"]["value"] == "1"


def test_app_json_adds_postgres_and_redis_and_a_web_dyno() -> None:
    app = json.loads((ROOT / "app.json").read_text())
    plans = [addon["plan"].split(":")[0] for addon in app["addons"]]
    assert sorted(plans) == ["heroku-postgresql", "heroku-redis"]
    assert app["formation"]["web"]["quantity"] >= 1


def test_app_json_asks_for_nothing_parley_does_not_read() -> None:
    """A misspelt name in app.json would be asked for, and then silently ignored."""
    app = json.loads((ROOT / "app.json").read_text())
    stray = set(app["env"]) - variables_config_reads()
    assert not stray, stray


def test_env_example_lists_every_setting() -> None:
    """`.env.example` is the one place that shows every variable with an example value."""
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#?([A-Z_]+)=", example, flags=re.MULTILINE))
    wanted = variables_config_reads()
    assert wanted <= listed, wanted - listed


def test_the_readmes_configuration_table_lists_every_setting_and_no_other() -> None:
    """The README's table is what a developer reads first: a setting missing there is one
    nobody knows of, and a stray row promises one Parley ignores."""
    readme = (ROOT / "README.md").read_text()
    table = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `([A-Z_0-9]+)` \|", table, flags=re.MULTILINE))
    assert rows == variables_config_reads(), rows ^ variables_config_reads()
