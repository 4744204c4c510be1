"""Faults: Redis goes away and comes back; nothing crashes, streams recover, Twilio retries."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from twilio.request_validator import RequestValidator

from tests.support.clients import ApiClient, StreamReader
from tests.support.servers import ParleyServer, RedisServer, run_parley, start_redis
from tests.support.waiting import wait_until


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[tuple[ParleyServer, list[RedisServer]]]:
    """A Parley with a Redis of its own, which the test may stop and restart."""
    redis_servers = [start_redis()]
    try:
        with run_parley(tmp_path, REDIS_URL=redis_servers[0].url) as server:
            yield server, redis_servers
    finally:
        for redis_server in redis_servers:
            redis_server.stop()


def test_redis_down_means_503_for_twilio_and_streams_recover(
    own_stack: tuple[ParleyServer, list[RedisServer]],
) -> None:
    server, redis_servers = own_stack
    alice = ApiClient(server.url).login("alice", server.password)
    bob = ApiClient(server.url).login("bob", server.password)
    sid = alice.start_dm("bob")["sid"]
    stream = StreamReader(bob, bob.stream_cursor())
    assert stream.next_event().event == "resumed"

    redis_servers[0].stop()
    url = server.url + "/twilio/webhook"
    params = {
        "EventType": "onMessageAdded",
        "ConversationSid": sid,
        "MessageSid": "IM" + uuid.uuid4().hex,
        "Index": "0",
        "Author": "alice",
        "Body": "while redis is down",
    }
    signature = RequestValidator(server.auth_token).compute_signature(url, params)
    response = requests.post(
        url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10
    )
    assert response.status_code == 503  # Twilio will retry
    assert requests.get(server.url + "/login", timeout=5).status_code == 200  # still serving

    redis_servers.append(start_redis(redis_servers[0].port))
    body = "after redis returned " + uuid.uuid4().hex

    def delivered() -> bool:
        # Messages sent while the worker reconnects may be refused (503 to Twilio's retry);
        # keep sending until one arrives on the stream that stayed open.
        alice.send(sid, body)
        try:
            stream.wait_for("message_added", lambda d: d["message"]["body"] == body, timeout=1)
        except AssertionError:
            return False
        return True

    wait_until(delivered, 30, "a message to reach the stream that stayed open")
    assert any(event.event == "resync" for event in stream.seen)  # the log restarted empty
    stream.close()
