"""Messages with media and no text reach Parley's streams and history: the emulator's real
webhooks (`Media`, no `Body`) through the signed intake, and Twilio's history through the
gateway, each an event whose body is "" and whose media list names the files."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests
from twilio.request_validator import RequestValidator

from tests.integration.test_sms_groups import add_phone, new_phone, start_group
from tests.support.clients import StreamReader, message_added_params, text_from_phone
from tests.support.servers import ParleyServer
from twilio_emulator.credentials import EMULATOR_ACCOUNT_SID, EMULATOR_SERVICE_SID

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def parley_server(sms_parley_server: ParleyServer) -> ParleyServer:
    """Parley with a Twilio number, so a phone can send an MMS into a group."""
    return sms_parley_server


def upload(server: ParleyServer, data: bytes, filename: str, content_type: str) -> str:
    """A file put in the in-process emulator's Media Content Service; its `ME…` SID."""
    answer = requests.post(
        f"{server.url}/_emulator/mcs/v1/Services/{EMULATOR_SERVICE_SID}/Media",
        files={"Media": (filename, data, content_type)},
        auth=(EMULATOR_ACCOUNT_SID, server.auth_token),
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    sid: str = answer.json()["sid"]
    return sid


def post_webhook(server: ParleyServer, params: dict[str, str]) -> requests.Response:
    """Parameters signed as Twilio signs them, posted to Parley's webhook."""
    url = server.url + "/twilio/webhook"
    signature = RequestValidator(server.auth_token).compute_signature(url, params)
    return requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)


def test_a_media_only_mms_reaches_the_stream_and_history(
    login: Any, parley_server: ParleyServer
) -> None:
    alice, bob = login("alice"), login("bob")
    sid = start_group(alice, ["bob"])
    phone = new_phone()
    assert add_phone(alice, sid, phone).status_code == 201
    stream = StreamReader(bob, bob.stream_cursor())
    media_sid = upload(parley_server, PNG, "sunset.png", "image/png")

    text_from_phone(parley_server, phone, sid, "", (media_sid,))
    got = stream.wait_for("message_added", lambda d: d["message"]["media"])
    message = got.data["message"]
    assert (message["body"], message["author"], message["source"]) == ("", phone, "SMS")
    assert message["media"] == [
        {"sid": media_sid, "filename": "sunset.png", "content_type": "image/png", "size": len(PNG)}
    ]
    stream.close()

    history = bob.get(f"/api/conversations/{sid}/messages")
    assert history.status_code == 200
    (latest,) = [m for m in history.json()["messages"] if m["sid"] == message["sid"]]
    assert latest["body"] == "" and latest["media"] == message["media"]
    listed = bob.get("/api/conversations").json()["conversations"]
    preview = next(c for c in listed if c["sid"] == sid)["last_message"]
    assert preview["body"] == "" and preview["media"][0]["filename"] == "sunset.png"


def test_a_chat_message_with_media_and_a_caption_keeps_both(
    login: Any, parley_server: ParleyServer
) -> None:
    alice, bob = login("alice"), login("bob")
    sid = start_group(alice, ["bob"])
    stream = StreamReader(bob, bob.stream_cursor())
    media_sid = upload(parley_server, b"%PDF-1.4", "minutes.pdf", "application/pdf")
    created = requests.post(
        f"{parley_server.url}/_emulator/v1/Conversations/{sid}/Messages",
        data={"Author": "alice", "Body": "Minutes", "MediaSid": media_sid},
        headers={"X-Twilio-Webhook-Enabled": "true"},
        auth=(EMULATOR_ACCOUNT_SID, parley_server.auth_token),
        timeout=10,
    )
    assert created.status_code == 201, created.text
    got = stream.wait_for("message_added", lambda d: d["message"]["media"])
    assert got.data["message"]["body"] == "Minutes"
    assert got.data["message"]["media"][0]["content_type"] == "application/pdf"
    stream.close()


@pytest.mark.parametrize(
    "media",
    [
        "not json",
        '{"Sid": "ME1"}',
        "[1, null, []]",
        '[{"Sid": 5, "ContentType": "image/png"}]',
        '[{"Sid": "ME1", "ContentType": "image/png", "Size": "big", "Filename": 7}]',
        "[" * 5000,
    ],
)
def test_a_webhook_with_a_media_parameter_parley_cannot_read_is_still_a_message(
    login: Any, parley_server: ParleyServer, media: str
) -> None:
    alice, bob = login("alice"), login("bob")
    sid = start_group(alice, ["bob"])
    stream = StreamReader(bob, bob.stream_cursor())
    params = message_added_params(sid, "")
    del params["Body"]
    params["Media"] = media
    url = parley_server.url + "/twilio/webhook"
    signature = RequestValidator(parley_server.auth_token).compute_signature(url, params)
    answer = requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)
    assert answer.status_code == 200, answer.text
    got = stream.wait_for("message_added", lambda d: d["message"]["sid"] == params["MessageSid"])
    assert got.data["message"]["body"] == ""
    expected = [{"sid": "ME1", "filename": None, "content_type": "image/png", "size": 0}]
    assert got.data["message"]["media"] == (expected if "Size" in media else [])
    stream.close()


def test_media_names_survive_json_round_trips(login: Any, parley_server: ParleyServer) -> None:
    """File names are user data: quotes and non-ASCII reach the browser unchanged."""
    alice, bob = login("alice"), login("bob")
    sid = start_group(alice, ["bob"])
    stream = StreamReader(bob, bob.stream_cursor())
    name = f'résumé "final" {uuid.uuid4().hex[:4]}.pdf'
    params = message_added_params(sid, "")
    del params["Body"]
    params["Media"] = json.dumps(
        [{"Sid": "ME" + "a" * 32, "Filename": name, "ContentType": "application/pdf", "Size": 9}]
    )
    assert post_webhook(parley_server, params).status_code == 200
    got = stream.wait_for("message_added", lambda d: d["message"]["sid"] == params["MessageSid"])
    assert got.data["message"]["media"][0]["filename"] == name
    stream.close()
