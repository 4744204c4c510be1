"""Without TWILIO_PHONE_NUMBER Parley cannot text anyone: adding a phone says so clearly."""

from __future__ import annotations

from typing import Any


def test_adding_a_phone_without_a_twilio_number_explains_what_to_set(login: Any) -> None:
    alice = login("alice")
    created = alice.post("/api/conversations", {"participants": ["bob"], "friendly_name": "No SMS"})
    sid = created.json()["conversation"]["sid"]

    answer = alice.post(f"/api/conversations/{sid}/participants", {"phone_number": "+15557654321"})

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "sms_not_configured"
    assert "TWILIO_PHONE_NUMBER" in error["message"]
    # A malformed number is still refused as such first.
    bad = alice.post(f"/api/conversations/{sid}/participants", {"phone_number": "555"})
    assert bad.json()["error"]["code"] == "invalid_phone_number"


def test_adding_whatsapp_without_a_sender_explains_what_to_set(login: Any) -> None:
    alice = login("alice")
    created = alice.post("/api/conversations", {"participants": ["bob"], "friendly_name": "No WA"})
    sid = created.json()["conversation"]["sid"]

    answer = alice.post(
        f"/api/conversations/{sid}/participants", {"phone_number": "whatsapp:+15557654321"}
    )

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "whatsapp_not_configured"
    assert "TWILIO_WHATSAPP_NUMBER" in error["message"]
