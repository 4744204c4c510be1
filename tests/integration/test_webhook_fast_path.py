"""Under gunicorn: Twilio's webhooks take the lean WSGI path, other shapes Flask's route, and
both deliver, log one line with the request id and refuse bad input cleanly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import requests
from twilio.request_validator import RequestValidator

from tests.conftest import Listening
from tests.support.clients import message_added_params
from tests.support.servers import ParleyServer
from tests.support.waiting import wait_until


def _log_line(server: ParleyServer, request_id: str) -> str:
    """The request's own log line (``webapp.request``), once gunicorn's log has it."""

    def line() -> str | None:
        for text in server.log().splitlines():
            if f"[{request_id}]" in text and "webapp.request" in text:
                return text
        return None

    return wait_until(line, 5, f"the log line of request {request_id}")


def test_a_signed_webhook_is_delivered_and_logged_once_with_its_request_id(
    bob_listening: Listening, parley_server: ParleyServer
) -> None:
    alice, sid, stream = bob_listening
    url = parley_server.url + "/twilio/webhook"
    params = message_added_params(sid, "lean " + uuid.uuid4().hex)
    request_id = "tw-" + uuid.uuid4().hex
    signature = RequestValidator(parley_server.auth_token).compute_signature(url, params)
    answer = requests.post(
        url,
        data=params,
        headers={"X-Twilio-Signature": signature, "X-Request-Id": request_id},
        timeout=5,
    )
    assert (answer.status_code, answer.text) == (200, "ok\n")
    assert answer.headers["X-Request-Id"] == request_id
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    stream.wait_for("message_added", lambda d: d["message"]["body"] == params["Body"])
    line = _log_line(parley_server, request_id)
    assert "POST /twilio/webhook 200" in line
    assert line.endswith(f"ms accepted onMessageAdded {sid}")
    assert sum(f"[{request_id}]" in text for text in parley_server.log().splitlines()) == 1


def test_shapes_the_lean_path_leaves_to_flask_are_still_served(
    bob_listening: Listening, parley_server: ParleyServer
) -> None:
    """Multipart and chunked bodies go to Flask's route: the same handling, the same line."""
    alice, sid, stream = bob_listening
    url = parley_server.url + "/twilio/webhook"
    validator = RequestValidator(parley_server.auth_token)

    multipart = message_added_params(sid, "multipart " + uuid.uuid4().hex)
    answer = requests.post(
        url,
        files={name: (None, value) for name, value in multipart.items()},
        headers={"X-Twilio-Signature": validator.compute_signature(url, multipart)},
        timeout=5,
    )
    assert (answer.status_code, answer.text) == (200, "ok\n")
    line = _log_line(parley_server, answer.headers["X-Request-Id"])
    assert line.endswith(f"ms accepted onMessageAdded {sid}")

    chunked = message_added_params(sid, "chunked " + uuid.uuid4().hex)
    body = requests.models.RequestEncodingMixin._encode_params(chunked).encode()

    def pieces() -> Iterator[bytes]:
        yield body[:10]
        yield body[10:]

    answer = requests.post(
        url,
        data=pieces(),
        headers={
            "X-Twilio-Signature": validator.compute_signature(url, chunked),
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout=5,
    )
    assert (answer.status_code, answer.text) == (200, "ok\n")
    for params in (multipart, chunked):
        stream.wait_for("message_added", lambda d, p=params: d["message"]["body"] == p["Body"])


def test_bad_bodies_are_refused_cleanly(parley_server: ParleyServer) -> None:
    url = parley_server.url + "/twilio/webhook"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    too_big = requests.post(url, data={"Body": "x" * (300 * 1024)}, timeout=5)
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "request_entity_too_large"
    for body in (b"EventType=\xff\xfe", b"%zz=%ff&&==", b""):
        answer = requests.post(url, data=body, headers=form, timeout=5)
        assert (answer.status_code, answer.text) == (403, "invalid signature\n"), body
    assert requests.get(url, timeout=5).json()["error"]["code"] == "method_not_allowed"
