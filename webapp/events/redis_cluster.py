"""Parley's command client on a Redis Cluster (``REDIS_CLUSTER=1``).

redis-py's ``RedisCluster`` starts from the one node ``REDIS_URL`` names, learns the slot map
and keeps a pool per node. Each pool is bounded and blocking, like the single-Redis one
(:func:`webapp.events.redis_broker.connect`): ``max_connections`` per node, a wait for a
free connection ends after 5 s, and inside a request's deadline every wait is cut to the time
left (:mod:`.redis_deadline`). Code that uses Redis keeps every key a script touches in
one slot (``{...}`` hash tags) and declares it in ``KEYS``; :func:`is_cluster` tells it
which naming applies where key names differ.
"""

from __future__ import annotations

from typing import TypeAlias

import redis
from redis.cluster import RedisCluster

from webapp.events.redis_deadline import DeadlineQueue, connection_class_for

#: Either of Parley's command clients: one Redis, or a cluster.
RedisClient: TypeAlias = redis.Redis | RedisCluster


def connect_cluster(url: str, max_connections: int = 2) -> RedisCluster:
    """The process's cluster client: ``max_connections`` per node (primaries only, since
    nothing reads from replicas), waits bounded as on one Redis."""
    return RedisCluster.from_url(
        url,
        connection_pool_class=redis.BlockingConnectionPool,
        max_connections=max_connections,
        timeout=5,
        socket_timeout=5,
        socket_connect_timeout=5,
        connection_class=connection_class_for(url),
        queue_class=DeadlineQueue,
    )


def is_cluster(client: RedisClient) -> bool:
    return isinstance(client, RedisCluster)
