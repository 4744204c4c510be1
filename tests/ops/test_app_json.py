"""`app.json` (the Deploy to Heroku button) asks for every setting a deployment needs."""

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


def test_app_json_asks_for_every_setting_config_reads() -> None:
    app = json.loads((ROOT / "app.json").read_text())
    source = (ROOT / "webapp" / "config.py").read_text()
    read = set(re.findall(r'env(?:\.get\(|\[)"([A-Z_]+)"', source))
    read |= set(re.findall(r'\("([A-Z_]+)", r"', source))  # the live Twilio variables
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
