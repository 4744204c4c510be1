"""WhatsApp users added to a group from Parley (``whatsapp:+E164``), over the real data path:
API → emulator (which messages them from the WhatsApp sender) → signed webhook → /stream."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.test_sms_groups import (
    add_phone,
    new_phone,
    outbox,
    remove_phone,
    start_group,
)
from tests.support.clients import StreamReader, text_from_phone
from tests.support.servers import TWILIO_WHATSAPP_SENDER, ParleyServer
from tests.support.waiting import wait_until


@pytest.fixture
def parley_server(sms_parley_server: ParleyServer) -> ParleyServer:
    """Parley with a Twilio number and a WhatsApp sender."""
    return sms_parley_server


def test_a_whatsapp_user_joins_hears_the_group_and_writes_back_live(
    login: Any, parley_server: ParleyServer
) -> None:
    alice, bob = login("alice"), login("bob")
    sid = start_group(alice, ["bob"])
    bob_stream = StreamReader(bob, bob.stream_cursor())
    address = f"whatsapp:{new_phone()}"

    added = add_phone(alice, sid, "WhatsApp:" + address.removeprefix("whatsapp:"))
    assert added.status_code == 201, added.text
    assert address in added.json()["conversation"]["participants"]
    joined = bob_stream.wait_for("participant_added", lambda d: d["participant"]["address"])
    assert joined.data["participant"]["address"] == address
    assert add_phone(bob, sid, address).status_code == 200  # already there

    body = f"lunch? {uuid.uuid4().hex[:6]}"
    assert bob.send(sid, body).status_code == 201
    wait_until(
        lambda: any(m["to"] == address and m["body"] == body for m in outbox(parley_server)),
        5,
        "the group's message to reach the WhatsApp user",
    )
    sent = next(m for m in outbox(parley_server) if m["to"] == address and m["body"] == body)
    assert sent["from"] == f"whatsapp:{TWILIO_WHATSAPP_SENDER}"

    reply = f"yes {uuid.uuid4().hex[:6]}"
    text_from_phone(parley_server, address, sid, reply)
    got = bob_stream.wait_for("message_added", lambda d: d["message"]["body"] == reply)
    assert got.data["message"]["author"] == address
    assert got.data["message"]["source"] == "WHATSAPP"

    assert remove_phone(bob, sid, address).status_code == 204
    listed = alice.get(f"/api/conversations/{sid}").json()["conversation"]["participants"]
    assert address not in listed
    bob_stream.close()


def test_bad_whatsapp_addresses_are_refused(login: Any) -> None:
    alice = login("alice")
    sid = start_group(alice, ["bob"])
    bad_ones = ("whatsapp:", "whatsapp:5551234567", "whatsapp:+1555abc4567", "whatsup:+15551234")
    for bad in bad_ones:
        answer = add_phone(alice, sid, bad)
        assert answer.status_code == 400, (bad, answer.text)
        assert answer.json()["error"]["code"] == "invalid_phone_number"
    own = add_phone(alice, sid, f"whatsapp:{TWILIO_WHATSAPP_SENDER}")
    assert own.status_code == 400 and own.json()["error"]["code"] == "invalid_phone_number"
