"""Each phone's delivery of a message read back after the fact (Twilio's Receipts list through
``GET /api/conversations/<sid>/messages/<IM…>/deliveries``), as the stream said it live."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_sms_groups import add_phone, new_phone, remove_phone, start_group
from tests.support.clients import ApiClient
from tests.support.servers import ParleyServer
from tests.support.waiting import wait_until

FAILING = "+15550030006"  # the emulator's magic number: fails with 30006


@pytest.fixture
def parley_server(sms_parley_server: ParleyServer) -> ParleyServer:
    """Parley with a Twilio number, so groups can take SMS participants."""
    return sms_parley_server


def deliveries(client: ApiClient, sid: str, message_sid: str) -> list[dict[str, Any]]:
    answer = client.get(f"/api/conversations/{sid}/messages/{message_sid}/deliveries")
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["deliveries"]
    return found


def test_each_phone_s_receipt_is_listed_with_its_reason(login: Any) -> None:
    alice, bob = login("alice"), login("bob")
    sid = start_group(alice, ["bob"])
    phone = new_phone()
    for number in (phone, FAILING):
        assert add_phone(alice, sid, number).status_code == 201
    try:
        sent = alice.send(sid, "to the phones")
        assert sent.status_code == 201, sent.text
        message_sid = sent.json()["message"]["sid"]

        def settled() -> dict[str, dict[str, Any]] | None:
            found = {d["address"]: d for d in deliveries(bob, sid, message_sid)}
            done = len(found) == 2 and found[phone]["status"] == "delivered"
            return found if done else None

        found = wait_until(settled, 10, "both phones' receipts to settle")
        assert found[phone]["reason"] is None and found[phone]["error_code"] is None
        failed = found[FAILING]
        assert failed["status"] in ("failed", "undelivered")
        assert failed["error_code"] == 30006
        assert "Not delivered" not in failed["reason"] and failed["reason"]
        assert failed["conversation_sid"] == sid and failed["message_sid"] == message_sid
    finally:
        assert remove_phone(alice, sid, FAILING).status_code == 204


def test_only_members_read_receipts_and_unknown_messages_are_404(login: Any) -> None:
    alice, carol = login("alice"), login("carol")
    sid = start_group(alice, ["bob"])
    message_sid = alice.send(sid, "no phones here").json()["message"]["sid"]
    assert deliveries(alice, sid, message_sid) == []  # no phones: no receipts
    path = f"/api/conversations/{sid}/messages"
    for who, message in ((carol, message_sid), (alice, "IM" + "0" * 32), (alice, "nope")):
        answer = who.get(f"{path}/{message}/deliveries")
        assert answer.status_code == 404, (message, answer.text)
        assert answer.json()["error"]["code"] == "not_found"
