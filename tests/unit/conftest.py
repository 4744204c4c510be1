"""Fixtures for the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import RedisServer
from tests.support.waiting import wait_until
from webapp.events.broker import Broker
from webapp.events.memory_broker import MemoryBroker
from webapp.events.redis_broker import RedisBroker, connect


@pytest.fixture(params=["memory", "redis"])
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """Each broker in turn: in-process, and Redis (an empty database, logs of 5 events)."""
    if request.param == "memory":
        yield MemoryBroker()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    client = connect(server.url)
    client.flushdb()
    redis_broker = RedisBroker(client, server.url, max_events=5)
    wait_until(redis_broker.live, 10, "the subscription")
    yield redis_broker
    redis_broker.close()
