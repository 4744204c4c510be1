"""A worker holds at most 3 Redis connections (2 pooled + 1 pub/sub), whatever it serves.

The login limiter, presence, the membership cache and the broker all share one small pool;
a limiter or cache with a pool of its own would show up here as a 4th connection. Counted
with ``CLIENT LIST`` on a private Redis that only this server uses.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from tests.support.clients import ApiClient, StreamReader
from tests.support.servers import ParleyServer, RedisServer, run_parley

#: 2 pooled connections (commands: webhooks, streams, limiter, presence) + 1 pub/sub.
MAX_PER_WORKER = 3


@pytest.fixture
def lone_server(tmp_path: Path, private_redis: RedisServer) -> Iterator[ParleyServer]:
    with run_parley(tmp_path, REDIS_URL=private_redis.url) as server:
        yield server


def _others(client: redis.Redis) -> list[dict[str, str]]:
    """Every connection to the Redis but this test's own (``CLIENT LIST``)."""
    own = client.client_id()
    return [c for c in client.client_list() if int(c["id"]) != own]


def _fail_a_login(base_url: str) -> None:
    http = requests.Session()
    page = http.get(base_url + "/login", timeout=10)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    assert token, "login form has no csrf_token field"
    answer = http.post(
        base_url + "/login",
        data={"username": "alice", "password": "not-her-password", "csrf_token": token.group(1)},
        timeout=10,
    )
    assert answer.status_code == 401  # wrong password: the form again, counted


def test_a_worker_holds_at_most_three_redis_connections(
    lone_server: ParleyServer, private_redis: RedisServer
) -> None:
    probe = redis.Redis.from_url(private_redis.url, decode_responses=True)
    _fail_a_login(lone_server.url)  # only failed logins count against the limit
    alice = ApiClient(lone_server.url).login("alice", lone_server.password)
    bob = ApiClient(lone_server.url).login("bob", lone_server.password)
    carol = ApiClient(lone_server.url).login("carol", lone_server.password)
    # The login limiter counted in this Redis (not in its in-memory fallback) ...
    assert probe.keys("LIMITS:*parley-limits*"), "the login limiter did not use Redis"

    streams = [StreamReader(user, user.stream_cursor()) for user in (alice, bob, carol, bob)]
    conversation = alice.start_dm("bob")
    body = f"count {uuid.uuid4().hex[:8]}"
    sent = alice.send(conversation["sid"], body)
    assert sent.status_code == 201, sent.text
    # ... the message went through the signed webhook and the broker to bob's streams ...
    for stream in (streams[1], streams[3]):
        stream.wait_for("message_added", lambda d: d["message"]["body"] == body)

    # ... and every connection the worker opened for all that fits in three.
    connections = _others(probe)
    assert 1 <= len(connections) <= MAX_PER_WORKER, connections
    assert sum(c["cmd"] in ("subscribe", "ssubscribe") for c in connections) == 1, connections

    # More streams open no more connections.
    more = [StreamReader(user, user.stream_cursor()) for user in (alice, carol) * 3]
    assert [s.status_code for s in more] == [200] * len(more)  # answered: subscribed
    assert len(_others(probe)) <= MAX_PER_WORKER
    for stream in streams + more:
        stream.close()
    probe.close()
