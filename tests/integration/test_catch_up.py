"""Messages whose webhooks never reached Parley are published anyway, in order, each once: on
a webhook whose ``Index`` jumps past what Parley published, and when Redis comes back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import redis
import requests
from twilio.request_validator import RequestValidator

from tests.support.clients import ApiClient, StreamReader, message_added_params
from tests.support.servers import ParleyServer, RedisServer, run_parley
from twilio_emulator.credentials import EMULATOR_ACCOUNT_SID, EMULATOR_SERVICE_SID
from webapp.webhooks.catchup import OVERTAKEN_MAX


class Watching(NamedTuple):
    """bob's stream on a conversation of alice's and his (of this test's own: a DM is shared
    with the other tests), and the index of the message he last heard in it."""

    sid: str
    stream: StreamReader
    last: int


@contextmanager
def bob_watching(server: ParleyServer) -> Iterator[Watching]:
    alice = ApiClient(server.url).login("alice", server.password)
    bob = ApiClient(server.url).login("bob", server.password)
    name = f"catch-up {uuid.uuid4().hex[:6]}"
    response = alice.post("/api/conversations", {"participants": ["bob"], "friendly_name": name})
    assert response.status_code == 201, response.text
    sid = response.json()["conversation"]["sid"]
    stream = StreamReader(bob, bob.stream_cursor())
    try:
        heard = f"heard {uuid.uuid4().hex[:6]}"
        assert alice.send(sid, heard).status_code == 201
        first = stream.wait_for("message_added", lambda d: d["message"]["body"] == heard)
        yield Watching(sid, stream, first.data["message"]["index"])
    finally:
        stream.close()


def _unheard_message(server: ParleyServer, sid: str, body: str) -> dict[str, Any]:
    """A message created in Twilio whose webhook never reaches Parley (a REST call without
    ``X-Twilio-Webhook-Enabled`` fires none)."""
    answer = requests.post(
        f"{server.url}/_emulator/v1/Services/{EMULATOR_SERVICE_SID}/Conversations/{sid}/Messages",
        data={"Author": "alice", "Body": body},
        auth=(EMULATOR_ACCOUNT_SID, server.auth_token),
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    message: dict[str, Any] = answer.json()
    return message


def _webhook(
    server: ParleyServer, message: dict[str, Any], retry: int = 0, status: int = 200
) -> str:
    """Twilio's ``onMessageAdded`` webhook for ``message``, signed; Parley's answer text."""
    params = {
        "EventType": "onMessageAdded",
        "AccountSid": EMULATOR_ACCOUNT_SID,
        "ChatServiceSid": EMULATOR_SERVICE_SID,
        "ConversationSid": message["conversation_sid"],
        "MessageSid": message["sid"],
        "Index": str(message["index"]),
        "Author": message["author"],
        "Body": message["body"],
        "Attributes": message["attributes"],
        "DateCreated": message["date_created"],
        "Source": "API",
        "RetryCount": str(retry),
    }
    return _post(server, params, status)


def _post(server: ParleyServer, params: dict[str, str], status: int = 200) -> str:
    url = server.url + "/twilio/webhook"
    signature = RequestValidator(server.auth_token).compute_signature(url, params)
    answer = requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)
    assert answer.status_code == status, answer.text
    return answer.text.strip()


def _sids(events: list[Any]) -> list[str]:
    return [event.data["message"]["sid"] for event in events]


def test_a_gap_in_the_index_publishes_the_missed_messages_first_in_order_once(
    parley_server: ParleyServer,
) -> None:
    with bob_watching(parley_server) as (sid, stream, n):
        # Longer than webhooks overtaking one another: fetched inside the webhook, in order.
        count = OVERTAKEN_MAX + 2
        unheard = [_unheard_message(parley_server, sid, f"missed {i}") for i in range(count)]
        assert [m["index"] for m in unheard] == list(range(n + 1, n + 1 + count))
        assert _webhook(parley_server, unheard[-1]) == "ok"  # only the last one's webhook

        got = [stream.wait_for("message_added") for _ in unheard]
        assert [e.data["message"]["index"] for e in got] == [m["index"] for m in unheard]
        assert [e.data["message"]["body"] for e in got] == [f"missed {i}" for i in range(count)]
        assert _sids(got) == [m["sid"] for m in unheard]

        # The first one's own webhook, late (a retry Twilio still had queued): a duplicate.
        assert _webhook(parley_server, unheard[0], retry=1) == "duplicate"
        assert _webhook(parley_server, unheard[-1], retry=1) == "duplicate"
        assert [e.event for e in stream.drain()] == []


def test_a_short_gap_publishes_the_message_at_once_and_the_missed_ones_seconds_later(
    parley_server: ParleyServer,
) -> None:
    with bob_watching(parley_server) as (sid, stream, n):
        unheard = [_unheard_message(parley_server, sid, f"missed {i}") for i in (1, 2, 3)]
        # n+3's webhook overtook the two before it, as Twilio's concurrent webhooks do: it is
        # not held back for them ...
        assert _webhook(parley_server, unheard[-1]) == "ok"
        first = stream.wait_for("message_added")
        assert first.data["message"]["index"] == n + 3
        # ... and when their webhooks never come, a check a few seconds later fetches them
        # from Twilio's history, oldest first, once.
        got = [stream.wait_for("message_added", timeout=20) for _ in unheard[:2]]
        assert _sids(got) == [m["sid"] for m in unheard[:2]]
        assert _webhook(parley_server, unheard[0], retry=1) == "duplicate"
        assert [e.event for e in stream.drain()] == []


def test_a_gap_too_long_for_the_webhook_is_filled_in_the_background_then_twilio_retries(
    parley_server: ParleyServer,
) -> None:
    with bob_watching(parley_server) as (sid, stream, _):
        unheard = [_unheard_message(parley_server, sid, f"missed {i}") for i in range(60)]

        # More than one webhook may fill: Twilio is asked to come back once it is done.
        assert _webhook(parley_server, unheard[-1], status=503) == "catching up; retry"
        got = [stream.wait_for("message_added", timeout=20) for _ in unheard]
        assert _sids(got) == [m["sid"] for m in unheard]
        assert _webhook(parley_server, unheard[-1], retry=1) == "duplicate"


def test_an_index_twilio_does_not_have_hides_no_later_gap(parley_server: ParleyServer) -> None:
    with bob_watching(parley_server) as (sid, stream, _):
        # A signed webhook naming a message Twilio does not have (as the tests' SMS ones do).
        odd = message_added_params(sid, f"index 999 {uuid.uuid4().hex[:6]}")
        assert _post(parley_server, odd) == "ok"
        stream.wait_for("message_added", lambda d: d["message"]["body"] == odd["Body"])

        unheard = [_unheard_message(parley_server, sid, f"missed {i}") for i in (1, 2)]
        assert _webhook(parley_server, unheard[-1]) == "ok"
        got = [stream.wait_for("message_added", timeout=20) for _ in unheard]
        assert sorted(_sids(got)) == sorted(m["sid"] for m in unheard)  # the gap's is checked later


@pytest.fixture
def own_parley(tmp_path: Path, private_redis: RedisServer) -> Iterator[ParleyServer]:
    """A Parley with a Redis of its own, whose connections the test may cut."""
    with run_parley(tmp_path, REDIS_URL=private_redis.url) as server:
        yield server


def test_when_redis_comes_back_missed_messages_are_published_without_any_webhook(
    own_parley: ParleyServer, private_redis: RedisServer
) -> None:
    with bob_watching(own_parley) as (sid, stream, _):
        unheard = [_unheard_message(own_parley, sid, f"unheard {i}") for i in (1, 2)]

        # Parley's pub/sub connection drops, as when Redis restarts; the worker reconnects.
        assert redis.Redis.from_url(private_redis.url).client_kill_filter(_type="pubsub") >= 1

        got = [stream.wait_for("message_added", timeout=20) for _ in unheard]
        assert _sids(got) == [m["sid"] for m in unheard]
        assert [e.event for e in stream.drain()] == []
