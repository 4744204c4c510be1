"""``GET /api/token``: what an SDK client needs to connect and to schedule its refresh."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime
from typing import Any

from twilio_emulator.credentials import EMULATOR_API_KEY_SID, EMULATOR_SERVICE_SID


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def test_the_token_says_whose_it_is_and_when_to_refresh_it(login: Any) -> None:
    before = int(time.time())
    answer = login("bob").get("/api/token")
    after = int(time.time())

    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"token", "identity", "ttl", "expires_at"}
    assert body["identity"] == "bob"
    assert body["ttl"] == 3600
    claims = jwt_claims(body["token"])
    assert claims["grants"]["identity"] == "bob"
    assert claims["grants"]["chat"]["service_sid"] == EMULATOR_SERVICE_SID
    assert claims["iss"] == EMULATOR_API_KEY_SID
    assert before + 3600 <= claims["exp"] <= after + 3600
    expires_at = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00")).timestamp()
    # Never later than the token's own expiry, so a client refreshing by it is never late.
    assert claims["exp"] - 1 <= expires_at <= claims["exp"]
