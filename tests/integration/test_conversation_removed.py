"""A conversation deleted in Twilio reaches every member's stream, however long after Parley
last looked at it: by the time ``onConversationRemoved`` arrives Twilio answers 404 for the
conversation, so its members come from the last list Parley fetched, not from the cache.

Parley runs as in production (gunicorn, a Redis of the test's own); the cached list is made to
expire without waiting for its TTL: its Redis entry is deleted (as the TTL would) and every
process is told to drop its copy (as another worker's ``forget`` does).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import redis

from tests.support.clients import ApiClient, StreamReader, delete_in_twilio
from tests.support.servers import ParleyServer, RedisServer, run_parley
from tests.support.waiting import wait_until
from webapp.events.redis_broker import Frame, RedisBroker, connect
from webapp.people.participants import RedisMembershipCache


@pytest.fixture
def parley(tmp_path: Path, private_redis: RedisServer) -> Iterator[ParleyServer]:
    with run_parley(tmp_path, REDIS_URL=private_redis.url) as server:
        yield server


@pytest.fixture
def bus(private_redis: RedisServer) -> Iterator[RedisBroker]:
    """Another worker's broker: how the test tells Parley's processes to drop their copies."""
    broker = RedisBroker(connect(private_redis.url), private_redis.url)
    wait_until(broker.live, 10, "the subscription")
    yield broker
    broker.close()


def expire_cached_list(client: redis.Redis, bus: RedisBroker, sid: str) -> None:
    """The cached participant list gone everywhere, as MEMBERSHIP_TTL seconds would leave it."""
    client.delete(RedisMembershipCache._key(sid))
    bus.announce(Frame.MEMBERSHIP, sid)


def test_a_deletion_after_the_cached_list_expired_still_reaches_every_member(
    parley: ParleyServer, private_redis: RedisServer, bus: RedisBroker
) -> None:
    alice, bob, carol = (
        ApiClient(parley.url).login(name, parley.password) for name in ("alice", "bob", "carol")
    )
    client = connect(private_redis.url)
    streams = {who.username: StreamReader(who, who.stream_cursor()) for who in (bob, carol)}
    try:
        # Opening a stream looks up its user's contacts: done before the conversation exists,
        # so that once its list has expired nothing but the deletion looks it up again.
        for who in streams:
            wait_until(partial(client.exists, f"parley:contacts:of:{who}"), 10, "contacts")
        name = f"Doomed {uuid.uuid4().hex[:6]}"
        created = alice.post(
            "/api/conversations", {"participants": ["bob", "carol"], "friendly_name": name}
        )
        assert created.status_code == 201, created.text
        sid = created.json()["conversation"]["sid"]
        # carol leaves: the participant webhook refreshes who Parley knows to be in it.
        left = carol.session.delete(
            f"{parley.url}/api/conversations/{sid}/participants/me",
            headers={"X-CSRFToken": carol.csrf_token},
            timeout=10,
        )
        assert left.status_code == 204, left.text
        wait_until(
            lambda: _handled(parley, sid) == ["onParticipantAdded"] * 3 + ["onParticipantRemoved"],
            10,
            "the participant webhooks",
        )
        expire_cached_list(client, bus, sid)

        delete_in_twilio(parley, sid)
        removed = streams["bob"].wait_for("conversation_removed", timeout=10)
        assert removed.data == {"conversation_sid": sid}
        assert not client.exists(RedisMembershipCache._key(sid))  # told without the cache
        # carol left before the deletion: she is not told of a conversation she is not in.
        assert "conversation_removed" not in [e.event for e in streams["carol"].drain()]
    finally:
        for stream in streams.values():
            stream.close()


def _handled(parley: ParleyServer, sid: str) -> list[str]:
    """The webhooks about ``sid`` Parley has answered so far, by event type, sorted."""
    return sorted(re.findall(rf"POST /twilio/webhook 200 .* (\w+) {sid}", parley.log()))
