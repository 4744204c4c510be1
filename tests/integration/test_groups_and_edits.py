"""Idempotent sends, editing and deleting one's messages, and groups, over the real data path:
API → emulator → signed webhook → broker (Redis) → /stream."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import requests

from tests.support.clients import ApiClient, StreamReader
from tests.support.servers import ParleyServer
from twilio_emulator.credentials import EMULATOR_ACCOUNT_SID

Login = Callable[[str], ApiClient]


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:8]}"


def patch(client: ApiClient, path: str, body: Any) -> requests.Response:
    headers = {"X-CSRFToken": client.csrf_token}
    return client.session.patch(client.base_url + path, json=body, headers=headers, timeout=10)


def delete(client: ApiClient, path: str) -> requests.Response:
    headers = {"X-CSRFToken": client.csrf_token}
    return client.session.delete(client.base_url + path, headers=headers, timeout=10)


def history(client: ApiClient, sid: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = client.get(
        f"/api/conversations/{sid}/messages?limit=50"
    ).json()["messages"]
    return messages


def start_group(client: ApiClient, people: list[str], name: str) -> str:
    created = client.post("/api/conversations", {"participants": people, "friendly_name": name})
    assert created.status_code == 201, created.text
    sid: str = created.json()["conversation"]["sid"]
    return sid


def test_a_retried_send_returns_the_first_message_instead_of_a_duplicate(login: Login) -> None:
    alice, bob = login("alice"), login("bob")
    sid = alice.start_dm("bob")["sid"]
    body, client_id = unique("only once"), str(uuid.uuid4())

    first = alice.send(sid, body, client_id=client_id)
    retry = alice.send(sid, body, client_id=client_id)

    assert first.status_code == 201, first.text
    assert retry.status_code == 200, retry.text
    assert retry.json()["message"]["sid"] == first.json()["message"]["sid"]
    assert [m["body"] for m in history(bob, sid)].count(body) == 1
    # The key is the user's own: someone else's message with the same client_id is not it.
    assert bob.send(sid, body, client_id=client_id).status_code == 201


def test_the_author_edits_and_deletes_and_the_other_side_sees_it_live(login: Login) -> None:
    alice, bob, carol = login("alice"), login("bob"), login("carol")
    sid = alice.start_dm("bob")["sid"]
    stream = StreamReader(bob, bob.stream_cursor())
    sent = alice.send(sid, unique("typo"), client_id="edit-1").json()["message"]
    path = f"/api/conversations/{sid}/messages/{sent['sid']}"

    fixed = unique("fixed")
    edited = patch(alice, path, {"body": fixed})
    assert edited.status_code == 200, edited.text
    assert edited.json()["message"]["edited"] is True
    got = stream.wait_for("message_updated", lambda d: d["message"]["sid"] == sent["sid"])
    assert got.data["conversation_sid"] == sid
    assert got.data["message"]["body"] == fixed
    assert got.data["message"]["edited"] is True
    assert got.data["message"]["attributes"]["client_id"] == "edit-1"  # kept

    assert patch(bob, path, {"body": "not mine"}).status_code == 403
    assert delete(bob, path).status_code == 403
    assert patch(carol, path, {"body": "not mine"}).status_code == 404
    assert patch(alice, path, {"body": "  "}).status_code == 400

    # The delete goes out with X-Twilio-Webhook-Enabled (the library would drop it), so the
    # emulator, faithful to Twilio, fires onMessageRemoved and bob hears of it.
    assert delete(alice, path).status_code == 204
    removed = stream.wait_for("message_removed", lambda d: d["message"]["sid"] == sent["sid"])
    assert removed.data["conversation_sid"] == sid
    assert sent["sid"] not in [m["sid"] for m in history(bob, sid)]
    assert delete(alice, path).status_code == 404
    stream.close()


def test_any_member_renames_and_adds_and_anyone_may_leave(login: Login) -> None:
    alice, bob, carol = login("alice"), login("bob"), login("carol")
    sid = start_group(alice, ["bob"], unique("Plans"))
    alice_stream = StreamReader(alice, alice.stream_cursor())
    carol_stream = StreamReader(carol, carol.stream_cursor())

    assert patch(carol, f"/api/conversations/{sid}", {"friendly_name": "mine"}).status_code == 404
    new_name = unique("Weekend")
    renamed = patch(bob, f"/api/conversations/{sid}", {"friendly_name": new_name})
    assert renamed.status_code == 200, renamed.text
    got = alice_stream.wait_for("conversation_updated", lambda d: d["conversation_sid"] == sid)
    assert got.data["friendly_name"] == new_name

    added = bob.post(f"/api/conversations/{sid}/participants", {"username": "carol"})
    assert added.status_code == 201, added.text
    assert sorted(added.json()["conversation"]["participants"]) == ["alice", "bob", "carol"]
    joined = alice_stream.wait_for("participant_added", lambda d: d["conversation_sid"] == sid)
    assert joined.data["participant"]["identity"] == "carol"
    welcome = carol_stream.wait_for("conversation_added", lambda d: d["conversation"]["sid"] == sid)
    assert welcome.data["conversation"]["friendly_name"] == new_name
    again = bob.post(f"/api/conversations/{sid}/participants", {"username": "carol"})
    assert again.status_code == 200
    unknown = bob.post(f"/api/conversations/{sid}/participants", {"username": "nobody-here"})
    assert unknown.status_code == 404

    assert delete(carol, f"/api/conversations/{sid}/participants/me").status_code == 204
    left = alice_stream.wait_for("participant_removed", lambda d: d["conversation_sid"] == sid)
    assert left.data["participant"]["identity"] == "carol"
    assert carol.get(f"/api/conversations/{sid}/messages").status_code == 404
    # Removing someone who already left: nothing to remove (removal itself: test_sms_groups).
    assert delete(alice, f"/api/conversations/{sid}/participants/carol").status_code == 404
    alice_stream.close()
    carol_stream.close()


def test_a_conversation_of_two_stays_a_pair(login: Login) -> None:
    alice = login("alice")
    sid = alice.start_dm("bob")["sid"]
    assert patch(alice, f"/api/conversations/{sid}", {"friendly_name": "x"}).status_code == 400
    added = alice.post(f"/api/conversations/{sid}/participants", {"username": "carol"})
    assert added.status_code == 400
    assert added.json()["error"]["code"] == "not_a_group"


def test_someone_whose_identity_is_me_can_be_removed_and_leaving_has_its_own_path(
    login: Login, parley_server: ParleyServer
) -> None:
    alice, bob = login("alice"), login("bob")
    sid = start_group(alice, ["bob"], unique("Me too"))
    added = requests.post(  # the host's backend adds someone whose identity is "me"
        f"{parley_server.url}/_emulator/v1/Conversations/{sid}/Participants",
        data={"Identity": "me"},
        auth=(EMULATOR_ACCOUNT_SID, parley_server.auth_token),
        timeout=10,
    )
    assert added.status_code == 201, added.text

    assert delete(alice, f"/api/conversations/{sid}/participants/me").status_code == 204
    people = alice.get(f"/api/conversations/{sid}").json()["conversation"]["participants"]
    assert sorted(people) == ["alice", "bob"]  # "me" went; alice stayed

    assert delete(bob, f"/api/conversations/{sid}/membership").status_code == 204
    assert bob.get(f"/api/conversations/{sid}").status_code == 404
    people = alice.get(f"/api/conversations/{sid}").json()["conversation"]["participants"]
    assert people == ["alice"]
