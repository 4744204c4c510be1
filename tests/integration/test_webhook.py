"""The webhook accepts only Twilio-signed requests, and what it accepts reaches streams."""

from __future__ import annotations

import uuid

import requests
from twilio.request_validator import RequestValidator

from tests.conftest import Listening
from tests.support.clients import message_added_params
from tests.support.servers import ParleyServer


def _post(server: ParleyServer, params: dict[str, str], signature: str | None):  # type: ignore[no-untyped-def]
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    return requests.post(server.url + "/twilio/webhook", data=params, headers=headers, timeout=5)


def test_signed_webhook_from_any_source_reaches_participants(
    bob_listening: Listening, parley_server: ParleyServer
) -> None:
    alice, sid, stream = bob_listening
    params = message_added_params(sid, "from an SMS " + uuid.uuid4().hex)
    url = parley_server.url + "/twilio/webhook"
    signature = RequestValidator(parley_server.auth_token).compute_signature(url, params)
    assert _post(parley_server, params, signature).status_code == 200
    got = stream.wait_for("message_added", lambda d: d["message"]["body"] == params["Body"])
    assert got.data["message"]["source"] == "SMS"


def test_unsigned_or_forged_webhooks_get_403_and_publish_nothing(
    bob_listening: Listening, parley_server: ParleyServer
) -> None:
    alice, sid, stream = bob_listening
    assert stream.next_event().event == "resumed"
    url = parley_server.url + "/twilio/webhook"
    params = message_added_params(sid, "forged " + uuid.uuid4().hex)
    wrong_token = RequestValidator("not-the-token").compute_signature(url, params)
    other_url = RequestValidator(parley_server.auth_token).compute_signature(
        "https://evil.example.com/twilio/webhook", params
    )
    good = RequestValidator(parley_server.auth_token).compute_signature(url, params)
    tampered = {**params, "Body": "tampered"}
    assert _post(parley_server, params, None).status_code == 403
    assert _post(parley_server, params, "").status_code == 403
    assert _post(parley_server, params, wrong_token).status_code == 403
    assert _post(parley_server, params, other_url).status_code == 403
    assert _post(parley_server, tampered, good).status_code == 403
    # A real message afterwards arrives first: nothing forged was published before it.
    real = "real " + uuid.uuid4().hex
    alice.send(sid, real)
    first = stream.wait_for("message_added")
    assert first.data["message"]["body"] == real


def test_unknown_event_types_are_acknowledged(parley_server: ParleyServer) -> None:
    url = parley_server.url + "/twilio/webhook"
    params = {"EventType": "onUserUpdated", "AccountSid": "AC" + "0" * 32}
    signature = RequestValidator(parley_server.auth_token).compute_signature(url, params)
    assert _post(parley_server, params, signature).status_code == 200


def test_a_retried_webhook_reaches_browsers_once(
    bob_listening: Listening, parley_server: ParleyServer
) -> None:
    alice, sid, stream = bob_listening
    url = parley_server.url + "/twilio/webhook"
    params = message_added_params(sid, "retried " + uuid.uuid4().hex)
    signature = RequestValidator(parley_server.auth_token).compute_signature(url, params)
    token = {"I-Twilio-Idempotency-Token": uuid.uuid4().hex}
    for expected in ("ok", "duplicate"):
        response = requests.post(
            url, data=params, headers={"X-Twilio-Signature": signature, **token}, timeout=5
        )
        assert response.status_code == 200 and response.text.strip() == expected
    retry = {**params, "RetryCount": "1"}  # no token: the event's identity still matches
    retry_signature = RequestValidator(parley_server.auth_token).compute_signature(url, retry)
    assert _post(parley_server, retry, retry_signature).text.strip() == "duplicate"
    # Bob gets it once: the next message after it is a different one.
    stream.wait_for("message_added", lambda d: d["message"]["body"] == params["Body"])
    marker = "after " + uuid.uuid4().hex
    alice.send(sid, marker)
    following = stream.wait_for("message_added")
    assert following.data["message"]["body"] == marker


def test_oversized_webhook_is_refused(parley_server: ParleyServer) -> None:
    response = requests.post(
        parley_server.url + "/twilio/webhook", data={"Body": "x" * (300 * 1024)}, timeout=5
    )
    assert response.status_code == 413
