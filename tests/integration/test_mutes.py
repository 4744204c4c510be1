"""Muting a conversation over the real path: PUT/DELETE …/mute → Parley's database, Twilio's
(the emulator's) User Conversation ``notification_level``, and a ``conversation_muted`` event
on the user's own streams (and nobody else's)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.support.clients import ApiClient, StreamReader
from tests.support.servers import ParleyServer
from twilio_emulator.credentials import EMULATOR_ACCOUNT_SID

Login = Callable[[str], ApiClient]


def put_mute(client: ApiClient, sid: str, body: Any) -> requests.Response:
    return client.put(f"/api/conversations/{sid}/mute", body)


def delete_mute(client: ApiClient, sid: str) -> requests.Response:
    return client.delete(f"/api/conversations/{sid}/mute")


def listed(client: ApiClient, sid: str) -> dict[str, Any]:
    conversations = client.get("/api/conversations").json()["conversations"]
    found: dict[str, Any] = next(c for c in conversations if c["sid"] == sid)
    return found


def notification_level(server: ParleyServer, identity: str, sid: str) -> str:
    answer = requests.get(
        f"{server.url}/_emulator/v1/Users/{identity}/Conversations/{sid}",
        auth=(EMULATOR_ACCOUNT_SID, server.auth_token),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    level: str = answer.json()["notification_level"]
    return level


@pytest.fixture
def group(login: Login) -> str:
    alice = login("alice")
    body = {"participants": ["bob", "carol"], "friendly_name": f"Mute {uuid.uuid4().hex[:8]}"}
    created = alice.post("/api/conversations", body)
    assert created.status_code == 201, created.text
    sid: str = created.json()["conversation"]["sid"]
    return sid


def test_muting_for_an_hour_is_listed_with_its_end_and_set_in_twilio(
    login: Login, parley_server: ParleyServer, group: str
) -> None:
    bob = login("bob")
    before = datetime.now(UTC)

    answer = put_mute(bob, group, {"duration": "hour"})

    assert answer.status_code == 200, answer.text
    until = datetime.fromisoformat(answer.json()["mute"]["until"].replace("Z", "+00:00"))
    assert before + timedelta(minutes=59) < until < before + timedelta(minutes=61)
    assert listed(bob, group)["mute"] == answer.json()["mute"]
    assert bob.get(f"/api/conversations/{group}").json()["conversation"]["mute"] is not None
    assert listed(login("alice"), group)["mute"] is None  # per user
    assert notification_level(parley_server, "bob", group) == "muted"


def test_unmuting_clears_it_everywhere(
    login: Login, parley_server: ParleyServer, group: str
) -> None:
    bob = login("bob")
    assert put_mute(bob, group, {"duration": "forever"}).json()["mute"] == {"until": None}
    assert listed(bob, group)["mute"] == {"until": None}

    answer = delete_mute(bob, group)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"conversation_sid": group, "mute": None}
    assert listed(bob, group)["mute"] is None
    assert notification_level(parley_server, "bob", group) == "default"


def test_the_users_other_streams_hear_the_mute_and_nobody_else_does(
    login: Login, group: str
) -> None:
    bob_tab, bob_phone, carol = login("bob"), login("bob"), login("carol")
    bob_stream = StreamReader(bob_phone, bob_phone.stream_cursor())
    carol_stream = StreamReader(carol, carol.stream_cursor())

    put_mute(bob_tab, group, {"duration": "day"})
    delete_mute(bob_tab, group)

    muted = bob_stream.wait_for("conversation_muted", lambda d: d["mute"] is not None)
    assert muted.data["conversation_sid"] == group
    assert muted.id  # logged: a tab that reconnects later still gets it
    bob_stream.wait_for("conversation_muted", lambda d: d["mute"] is None)
    assert not [e for e in carol_stream.drain() if e.event == "conversation_muted"]
    bob_stream.close()
    carol_stream.close()


@pytest.mark.parametrize(
    "body",
    [{}, {"duration": "week"}, {"duration": 3600}, {"duration": None}, {"until": "x"}, []],
)
def test_a_bad_duration_is_a_400(login: Login, group: str, body: Any) -> None:
    answer = put_mute(login("bob"), group, body)

    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"]


def test_an_outsider_cannot_mute(login: Login, group: str) -> None:
    alices_dm = login("alice").start_dm("bob")["sid"]
    carol = login("carol")

    assert put_mute(carol, alices_dm, {"duration": "hour"}).status_code == 404
    assert delete_mute(carol, alices_dm).status_code == 404
    assert put_mute(carol, "CHnot-a-sid", {"duration": "hour"}).status_code == 404


def test_a_removed_member_who_rejoins_starts_unmuted(login: Login, group: str) -> None:
    alice, bob = login("alice"), login("bob")
    put_mute(bob, group, {"duration": "forever"})

    assert alice.delete(f"/api/conversations/{group}/participants/bob").status_code == 204
    assert alice.post(f"/api/conversations/{group}/participants", {"identity": "bob"}).ok

    assert listed(bob, group)["mute"] is None


def test_a_member_who_leaves_and_is_added_back_starts_unmuted(login: Login, group: str) -> None:
    alice, bob = login("alice"), login("bob")
    put_mute(bob, group, {"duration": "day"})

    assert bob.delete(f"/api/conversations/{group}/participants/me").status_code == 204
    assert alice.post(f"/api/conversations/{group}/participants", {"identity": "bob"}).ok

    assert listed(bob, group)["mute"] is None


def test_a_removal_made_in_twilio_drops_the_mute_when_its_webhook_arrives(
    login: Login, parley_server: ParleyServer, group: str
) -> None:
    alice, bob = login("alice"), login("bob")
    put_mute(bob, group, {"duration": "forever"})
    stream = StreamReader(bob, bob.stream_cursor())
    base = f"{parley_server.url}/_emulator/v1/Conversations/{group}/Participants"
    auth = (EMULATOR_ACCOUNT_SID, parley_server.auth_token)
    listing = requests.get(base, auth=auth, timeout=10).json()["participants"]
    bobs = next(p["sid"] for p in listing if p["identity"] == "bob")

    removed = requests.delete(  # as the host's backend would, webhooks on
        f"{base}/{bobs}", auth=auth, headers={"X-Twilio-Webhook-Enabled": "true"}, timeout=10
    )
    assert removed.status_code == 204, removed.text
    # The mute is dropped before the event is published: once bob hears it, it is gone.
    stream.wait_for("participant_removed", lambda d: d["participant"]["identity"] == "bob")
    stream.close()
    assert alice.post(f"/api/conversations/{group}/participants", {"identity": "bob"}).ok

    assert listed(bob, group)["mute"] is None
