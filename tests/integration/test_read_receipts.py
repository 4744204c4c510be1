"""Read receipts over the real data path: POST …/read → Twilio (emulator) participant update
→ signed onParticipantUpdated webhook → broker (Redis) → ``participant_read`` on /stream."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.support.clients import ApiClient, StreamReader
from tests.support.servers import ParleyServer
from twilio_emulator.credentials import EMULATOR_ACCOUNT_SID, EMULATOR_SERVICE_SID
from webapp.webhooks.translate import LIVE_RECEIPTS_MAX_MEMBERS, SUBSCRIBED_EVENTS

Login = Callable[[str], ApiClient]
StartGroup = Callable[[ApiClient, list[str]], str]


@pytest.fixture
def start_group(login: Login) -> Iterator[StartGroup]:
    """``start_group(alice, ["bob"])`` → a new group's sid. Afterwards every member has read
    it all, so no unread count is left for the tests that come after."""
    made: list[tuple[str, list[str]]] = []

    def _start(client: ApiClient, people: list[str]) -> str:
        name = f"Receipts {uuid.uuid4().hex[:8]}"
        body = {"participants": people, "friendly_name": name}
        created = client.post("/api/conversations", body)
        assert created.status_code == 201, created.text
        sid: str = created.json()["conversation"]["sid"]
        made.append((sid, [client.username, *people]))
        return sid

    yield _start
    for sid, members in made:
        for member in members:
            client = login(member)
            newest = client.get(f"/api/conversations/{sid}/messages?limit=1").json()["messages"]
            if newest:
                client.post(f"/api/conversations/{sid}/read", {"index": newest[-1]["index"]})


def conversation(client: ApiClient, sid: str) -> dict[str, Any]:
    response = client.get(f"/api/conversations/{sid}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["conversation"]
    return found


def test_reading_tells_the_other_participants_who_read_up_to_where(
    login: Login, start_group: StartGroup
) -> None:
    alice, bob, carol = login("alice"), login("bob"), login("carol")
    sid = start_group(alice, ["bob", "carol"])
    sent = alice.send(sid, "read me").json()["message"]
    alice_stream = StreamReader(alice, alice.stream_cursor())
    carol_stream = StreamReader(carol, carol.stream_cursor())

    read = bob.post(f"/api/conversations/{sid}/read", {"index": sent["index"]})

    assert read.status_code == 200, read.text
    expected = {
        "conversation_sid": sid,
        "identity": "bob",
        "last_read_message_index": sent["index"],
    }
    for stream in (alice_stream, carol_stream):
        got = stream.wait_for("participant_read", lambda d: d["conversation_sid"] == sid)
        assert got.data == expected
    alice_stream.close()
    carol_stream.close()


def test_the_conversation_carries_every_read_horizon_for_receipts_on_load(
    login: Login, start_group: StartGroup
) -> None:
    alice, bob = login("alice"), login("bob")
    sid = start_group(alice, ["bob", "carol"])
    sent = alice.send(sid, "horizon").json()["message"]
    assert bob.post(f"/api/conversations/{sid}/read", {"index": sent["index"]}).status_code == 200

    horizons = conversation(alice, sid)["read_horizons"]

    # The sender's own message counts as read by her; carol has read nothing, so is absent.
    assert horizons == {"alice": sent["index"], "bob": sent["index"]}
    listed = next(
        c for c in alice.get("/api/conversations").json()["conversations"] if c["sid"] == sid
    )
    assert listed["read_horizons"] == horizons


def test_an_older_index_never_moves_the_horizon_back_nor_tells_anyone(
    login: Login, start_group: StartGroup
) -> None:
    alice, bob = login("alice"), login("bob")
    sid = start_group(alice, ["bob", "carol"])
    first = alice.send(sid, "one").json()["message"]
    second = alice.send(sid, "two").json()["message"]
    alice_stream = StreamReader(alice, alice.stream_cursor())
    assert bob.post(f"/api/conversations/{sid}/read", {"index": second["index"]}).status_code == 200
    alice_stream.wait_for("participant_read", lambda d: d["conversation_sid"] == sid)

    again = bob.post(f"/api/conversations/{sid}/read", {"index": first["index"]})

    assert again.status_code == 200, again.text
    assert conversation(alice, sid)["read_horizons"]["bob"] == second["index"]
    assert not [e for e in alice_stream.drain(1.0) if e.event == "participant_read"]
    alice_stream.close()


def test_an_outsider_cannot_move_a_read_horizon(login: Login) -> None:
    alice, carol = login("alice"), login("carol")
    sid = alice.start_dm("bob")["sid"]

    refused = carol.post(f"/api/conversations/{sid}/read", {"index": 0})

    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "not_found"


def test_twilio_setup_subscribes_to_participant_updates() -> None:
    assert "onParticipantUpdated" in SUBSCRIBED_EVENTS


def twilio_participants(server: ParleyServer, sid: str) -> str:
    """The conversation's Participants resource in the (in-process) emulator's REST API."""
    service = f"{server.url}/_emulator/v1/Services/{EMULATOR_SERVICE_SID}"
    return f"{service}/Conversations/{sid}/Participants"


def update_participant(server: ParleyServer, sid: str, identity: str, **form: str) -> None:
    """Update a participant straight in Twilio, with webhooks on, as another client might."""
    auth = (EMULATOR_ACCOUNT_SID, server.auth_token)
    listed = requests.get(twilio_participants(server, sid), auth=auth, timeout=10).json()
    found = next(p for p in listed["participants"] if p["identity"] == identity)
    updated = requests.post(
        f"{twilio_participants(server, sid)}/{found['sid']}",
        data=form,
        headers={"X-Twilio-Webhook-Enabled": "true"},
        auth=auth,
        timeout=10,
    )
    assert updated.status_code == 200, updated.text


def test_a_participant_update_without_a_read_index_publishes_nothing(
    login: Login, parley_server: ParleyServer, start_group: StartGroup
) -> None:
    alice, bob = login("alice"), login("bob")
    sid = start_group(alice, ["bob"])
    stream = StreamReader(bob, bob.stream_cursor())
    assert stream.next_event().event == "resumed"

    update_participant(parley_server, sid, "alice", Attributes='{"mood": "sunny"}')
    sent = alice.send(sid, "after the update").json()["message"]

    # Events arrive in order: the message came, and nothing before it was a receipt.
    stream.wait_for("message_added", lambda d: d["message"]["sid"] == sent["sid"])
    assert not [e for e in stream.seen if e.event == "participant_read"]
    stream.close()


def test_in_a_very_large_group_only_the_reader_hears_of_their_read_live(
    login: Login, parley_server: ParleyServer, start_group: StartGroup
) -> None:
    alice, bob = login("alice"), login("bob")
    sid = start_group(alice, ["bob"])
    auth = (EMULATOR_ACCOUNT_SID, parley_server.auth_token)
    extra = LIVE_RECEIPTS_MAX_MEMBERS - 1  # with alice and bob: one over the limit
    for n in range(extra):
        created = requests.post(
            twilio_participants(parley_server, sid),
            data={"Identity": f"crowd-{n}-{uuid.uuid4().hex[:6]}"},
            # Only the last add fires a webhook, which makes Parley reload the member list.
            headers={"X-Twilio-Webhook-Enabled": "true" if n == extra - 1 else "false"},
            auth=auth,
            timeout=10,
        )
        assert created.status_code == 201, created.text
    sent = alice.send(sid, "hello crowd").json()["message"]
    alice_stream = StreamReader(alice, alice.stream_cursor())
    bob_stream = StreamReader(bob, bob.stream_cursor())

    assert bob.post(f"/api/conversations/{sid}/read", {"index": sent["index"]}).status_code == 200

    got = bob_stream.wait_for("participant_read", lambda d: d["conversation_sid"] == sid)
    assert got.data["identity"] == "bob"
    # Alice hears of later events, but not of bob's read (she sees it on her next load).
    later = alice.send(sid, "anyone?").json()["message"]
    alice_stream.wait_for("message_added", lambda d: d["message"]["sid"] == later["sid"])
    assert not [e for e in alice_stream.seen if e.event == "participant_read"]
    assert conversation(alice, sid)["read_horizons"]["bob"] == sent["index"]
    alice_stream.close()
    bob_stream.close()
