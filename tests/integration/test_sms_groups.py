"""Phone numbers as SMS participants of a group, over the real data path: API → emulator
(which texts the phone through its outbox) → signed webhook → broker (Redis) → /stream."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from tests.support.clients import ApiClient, StreamReader, text_from_phone
from tests.support.servers import TWILIO_TEST_NUMBER as TWILIO_NUMBER
from tests.support.servers import ParleyServer
from tests.support.waiting import wait_until
from twilio_emulator.credentials import EMULATOR_ACCOUNT_SID


@pytest.fixture
def parley_server(sms_parley_server: ParleyServer) -> ParleyServer:
    """Parley with a Twilio number, so groups can take SMS participants."""
    return sms_parley_server


def new_phone() -> str:
    """A phone number no other test uses (Twilio allows one conversation per phone and number)."""
    return "+1555" + str(uuid.uuid4().int)[:7]


def start_group(client: ApiClient, people: list[str]) -> str:
    name = f"SMS {uuid.uuid4().hex[:6]}"
    created = client.post("/api/conversations", {"participants": people, "friendly_name": name})
    assert created.status_code == 201, created.text
    sid: str = created.json()["conversation"]["sid"]
    return sid


def add_phone(client: ApiClient, sid: str, number: str) -> requests.Response:
    return client.post(f"/api/conversations/{sid}/participants", {"phone_number": number})


def remove_phone(client: ApiClient, sid: str, number: str) -> requests.Response:
    return client.session.delete(
        f"{client.base_url}/api/conversations/{sid}/participants/{number}",
        headers={"X-CSRFToken": client.csrf_token},
        timeout=10,
    )


def outbox(server: ParleyServer) -> list[dict[str, Any]]:
    answer = requests.get(
        server.url + "/_emulator/_dev/outbox",
        auth=(EMULATOR_ACCOUNT_SID, server.auth_token),
        timeout=10,
    )
    answer.raise_for_status()
    messages: list[dict[str, Any]] = answer.json()["messages"]
    return messages


def test_a_phone_joins_a_group_hears_it_by_sms_and_texts_back_live(
    login: Any, parley_server: ParleyServer
) -> None:
    alice, bob = login("alice"), login("bob")
    sid = start_group(alice, ["bob"])
    bob_stream = StreamReader(bob, bob.stream_cursor())
    phone = new_phone()

    added = add_phone(alice, sid, f"{phone[:2]} {phone[2:5]}-{phone[5:]}")  # punctuation is fine
    assert added.status_code == 201, added.text
    assert phone in added.json()["conversation"]["participants"]
    joined = bob_stream.wait_for("participant_added", lambda d: d["participant"]["address"])
    assert joined.data["conversation_sid"] == sid
    assert joined.data["participant"]["address"] == phone
    assert joined.data["participant"]["identity"] is None
    assert joined.data["participant"]["added_by"] == "alice"
    assert add_phone(bob, sid, phone).status_code == 200  # already there: nothing new

    body = f"dinner at 8 {uuid.uuid4().hex[:6]}"
    assert bob.send(sid, body).status_code == 201
    wait_until(
        lambda: any(m["to"] == phone and m["body"] == body for m in outbox(parley_server)),
        5,
        "the group's message to reach the phone's outbox",
    )
    sent = next(m for m in outbox(parley_server) if m["to"] == phone and m["body"] == body)
    assert sent["from"] == TWILIO_NUMBER

    reply = f"see you there {uuid.uuid4().hex[:6]}"
    text_from_phone(parley_server, phone, sid, reply)
    got = bob_stream.wait_for("message_added", lambda d: d["message"]["body"] == reply)
    assert got.data["message"]["author"] == phone
    assert got.data["message"]["source"] == "SMS"
    bob_stream.close()


def test_bad_numbers_and_wrong_places_get_clear_errors(login: Any) -> None:
    alice, carol = login("alice"), login("carol")
    sid = start_group(alice, ["bob"])
    path = f"/api/conversations/{sid}/participants"

    for bad in ("5551234567", "+0123456789", "+1555abc4567", "+1234567890123456", "javascript:"):
        answer = add_phone(alice, sid, bad)
        assert answer.status_code == 400, (bad, answer.text)
        assert answer.json()["error"]["code"] == "invalid_phone_number"
        assert "E.164" in answer.json()["error"]["message"]
    own = add_phone(alice, sid, TWILIO_NUMBER)
    assert own.status_code == 400 and own.json()["error"]["code"] == "invalid_phone_number"
    both = alice.post(path, {"username": "carol", "phone_number": new_phone()})
    assert both.status_code == 400 and both.json()["error"]["code"] == "missing_field"
    assert alice.post(path, {}).status_code == 400
    assert add_phone(carol, sid, new_phone()).status_code == 404  # not a member

    dm = alice.start_dm("bob")["sid"]
    refused = add_phone(alice, dm, new_phone())
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "not_a_group"


def test_a_phone_in_another_conversation_is_a_conflict(login: Any) -> None:
    alice = login("alice")
    first, second = start_group(alice, ["bob"]), start_group(alice, ["carol"])
    phone = new_phone()
    assert add_phone(alice, first, phone).status_code == 201

    clash = add_phone(alice, second, phone)
    assert clash.status_code == 409, clash.text
    assert clash.json()["error"]["code"] == "phone_number_in_use"
    assert phone in clash.json()["error"]["message"]

    # Once removed from the first, the phone may join the second.
    assert remove_phone(alice, first, phone).status_code == 204
    assert add_phone(alice, second, phone).status_code == 201


def test_a_member_removes_a_phone_and_everyone_hears_who_did(login: Any) -> None:
    alice, bob, carol = login("alice"), login("bob"), login("carol")
    sid = start_group(alice, ["bob"])
    phone = new_phone()
    assert add_phone(alice, sid, phone).status_code == 201
    alice_stream = StreamReader(alice, alice.stream_cursor())

    assert remove_phone(carol, sid, phone).status_code == 404  # outsider
    bad = remove_phone(bob, sid, "+12")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_phone_number"
    absent = remove_phone(bob, sid, "carol")  # a user, but not in this group
    assert absent.status_code == 404 and "not in this group" in absent.json()["error"]["message"]
    assert remove_phone(bob, sid, phone).status_code == 204
    gone = alice_stream.wait_for("participant_removed", lambda d: d["participant"]["address"])
    assert gone.data["conversation_sid"] == sid
    assert gone.data["participant"]["address"] == phone
    assert gone.data["participant"]["removed_by"] == "bob"
    listed = alice.get(f"/api/conversations/{sid}").json()["conversation"]["participants"]
    assert phone not in listed
    again = remove_phone(bob, sid, phone)
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"
    alice_stream.close()


def test_a_member_removes_a_person_who_sees_it_and_loses_the_group(login: Any) -> None:
    """Any member may remove another (no admins yet, as for renaming); the removed person's
    page is told who did it and the group is gone for them; oneself leaves with Leave."""
    alice, bob, carol = login("alice"), login("bob"), login("carol")
    sid = start_group(alice, ["bob", "carol"])
    alice_stream = StreamReader(alice, alice.stream_cursor())
    carol_stream = StreamReader(carol, carol.stream_cursor())

    itself = remove_phone(bob, sid, "bob")
    assert itself.status_code == 400 and itself.json()["error"]["code"] == "leave_instead"
    unknown = remove_phone(bob, sid, "nobody-at-all")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_user"
    assert remove_phone(bob, sid, "carol").status_code == 204

    for stream in (alice_stream, carol_stream):
        gone = stream.wait_for("participant_removed", lambda d: d["conversation_sid"] == sid)
        assert gone.data["participant"]["identity"] == "carol"
        assert gone.data["participant"]["removed_by"] == "bob"
    assert carol.get(f"/api/conversations/{sid}").status_code == 404
    listed = alice.get(f"/api/conversations/{sid}").json()["conversation"]["participants"]
    assert "carol" not in listed
    assert remove_phone(carol, sid, "alice").status_code == 404  # no longer a member
    alice_stream.close()
    carol_stream.close()
