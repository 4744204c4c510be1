"""Attributes are a JSON string anyone with the account's credentials may set (another
backend, the console, an SDK client): whatever Twilio holds there, Parley's pages still load."""

from __future__ import annotations

import requests

from tests.support.clients import ApiClient
from tests.support.servers import ParleyServer
from twilio_emulator.credentials import EMULATOR_ACCOUNT_SID


def test_history_loads_when_another_client_wrote_unreadable_attributes(
    parley_server: ParleyServer,
) -> None:
    alice = ApiClient(parley_server.url).login("alice", parley_server.password)
    sid = alice.start_dm("bob")["sid"]
    for attributes in ("[" * 1500 + "]" * 1500, "[1, 2]", '"a string"'):
        answer = requests.post(
            f"{parley_server.url}/_emulator/v1/Conversations/{sid}/Messages",
            data={"Author": "bob", "Body": "from elsewhere", "Attributes": attributes},
            auth=(EMULATOR_ACCOUNT_SID, parley_server.auth_token),
            timeout=10,
        )
        assert answer.status_code == 201, answer.text

    history = alice.get(f"/api/conversations/{sid}/messages")
    assert history.status_code == 200, history.text
    assert [m["body"] for m in history.json()["messages"]][-3:] == ["from elsewhere"] * 3
