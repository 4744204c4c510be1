"""Fixtures for the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cluster import RedisCluster
from tests.support.servers import RedisServer
from tests.support.waiting import wait_until
from webapp.events.broker import Broker
from webapp.events.memory_broker import MemoryBroker
from webapp.events.redis_broker import RedisBroker, connect
from webapp.events.redis_cluster import RedisClient, connect_cluster
from webapp.events.redis_cluster_broker import ClusterBroker

#: One Redis, then the local Redis Cluster: code that runs on both is tested on both.
ON_REDIS_AND_CLUSTER = ["redis", pytest.param("cluster", marks=pytest.mark.cluster)]


def emptied_client(request: pytest.FixtureRequest, where: str) -> RedisClient:
    """Parley's command client on the session's Redis or cluster, emptied."""
    if where == "cluster":
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        return connect_cluster(cluster.url)
    server: RedisServer = request.getfixturevalue("redis_server")
    client = connect(server.url)
    client.flushdb()
    return client


@pytest.fixture(params=ON_REDIS_AND_CLUSTER)
def redis_client(request: pytest.FixtureRequest) -> Iterator[RedisClient]:
    """Parley's command client, emptied: on one Redis, then on the Redis Cluster."""
    client = emptied_client(request, request.param)
    yield client
    client.close()


@pytest.fixture(params=["memory", *ON_REDIS_AND_CLUSTER])
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """Each broker in turn: in-process, Redis and a Redis Cluster (emptied, logs of 5
    events)."""
    if request.param == "memory":
        yield MemoryBroker()
        return
    redis_broker = live_redis_broker(request, request.param, max_events=5)
    yield redis_broker
    redis_broker.close()


def live_redis_broker(request: pytest.FixtureRequest, where: str, **limits: int) -> RedisBroker:
    """A broker on the session's Redis (``where`` = "redis") or cluster ("cluster"), emptied,
    once its subscription is up."""
    made: RedisBroker
    if where == "cluster":
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        made = ClusterBroker(connect_cluster(cluster.url), cluster.url, **limits)
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        client = connect(server.url)
        client.flushdb()
        made = RedisBroker(client, server.url, **limits)
    wait_until(made.live, 10, "the shared channel's subscription")
    return made
