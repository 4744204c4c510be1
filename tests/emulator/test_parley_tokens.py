"""End to end: a token from Parley's own `GET /api/token` works as an SDK client's would
against the in-process emulator (`/_emulator`), and what that client sends reaches the other
participant's Parley stream (the emulator fires the webhook, Source=SDK, as Twilio does)."""

from __future__ import annotations

import json
from collections.abc import Callable

import requests

from tests.support.clients import ApiClient, StreamReader


def test_a_token_from_parley_acts_for_its_user_and_reaches_the_other_stream(
    login: Callable[[str], ApiClient],
) -> None:
    alice, bob = login("alice"), login("bob")
    sid = alice.start_dm("bob")["sid"]
    issued = alice.get("/api/token").json()
    sdk = requests.Session()
    sdk.headers["X-Twilio-Token"] = issued["token"]
    emulator = alice.base_url + "/_emulator/v1"

    listed = sdk.get(f"{emulator}/Conversations", timeout=10).json()["conversations"]
    assert sid in [c["sid"] for c in listed]

    stream = StreamReader(bob, bob.stream_cursor())
    sent = sdk.post(
        f"{emulator}/Conversations/{sid}/Messages",
        data={"Body": "from an SDK", "Author": "bob"},
        timeout=10,
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["author"] == issued["identity"]
    got = stream.wait_for("message_added", lambda d: "from an SDK" in json.dumps(d), 10)
    assert issued["identity"] in json.dumps(got.data)
    stream.close()

    carol = login("carol")
    outsider = requests.get(
        f"{emulator}/Conversations/{sid}",
        headers={"X-Twilio-Token": carol.get("/api/token").json()["token"]},
        timeout=10,
    )
    assert (outsider.status_code, outsider.json()["code"]) == (403, 50430)
    tampered = issued["token"][:-2] + ("AA" if not issued["token"].endswith("AA") else "BB")
    refused = requests.get(
        f"{emulator}/Conversations", headers={"X-Twilio-Token": tampered}, timeout=10
    )
    assert (refused.status_code, refused.json()["code"]) == (401, 20107)
