"""Parley's command client on a Redis Cluster (``REDIS_CLUSTER=1``).

redis-py's ``RedisCluster`` starts from the one node ``REDIS_URL`` names, learns the slot map
and keeps a pool per node. Each pool is bounded and blocking, like the single-Redis one
(:func:`webapp.events.redis_broker.connect`): ``max_connections`` per node, a wait for a
free connection ends after 5 s, and inside a request's deadline every wait is cut to the time
left (:mod:`.redis_deadline`). Code that uses Redis keeps every key a script touches in
one slot (``{...}`` hash tags) and declares it in ``KEYS``; :func:`is_cluster` tells it
which naming applies where key names differ.

A pipeline across nodes takes a connection of each node it touches, in the order of its
commands, and holds them until its replies are read. Two pipelines taking the same nodes in
opposite orders, with every connection of those pools held, would each wait on the other until
the pool's timeout (then redis-py re-reads the slot map: a webhook deferred, the worker slower
still). So at most ``max_connections`` pipelines run at once in a process: each pool can then
serve every one of them, and no cycle of waits can form.
"""

from __future__ import annotations

import threading
from typing import Any, TypeAlias

import redis
from redis.cluster import ClusterPipeline, RedisCluster

from webapp import deadline
from webapp.events.redis_deadline import DeadlineQueue, connection_class_for

#: How long a pipeline waits for its turn (as for a pooled connection), a deadline's time
#: left at most.
PIPELINE_WAIT_S = 5.0


class ParleyCluster(RedisCluster):
    """redis-py's cluster client, its pipelines across nodes bounded per process (above)."""

    def __init__(self, *args: Any, max_connections: int = 2, **kwargs: Any) -> None:
        super().__init__(*args, max_connections=max_connections, **kwargs)
        self._pipelines = threading.BoundedSemaphore(max_connections)

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> ClusterPipeline:
        pipe = super().pipeline(transaction, shard_hint)
        run = pipe.execute
        turns = self._pipelines

        def execute(raise_on_error: bool = True) -> list[Any]:
            if not turns.acquire(timeout=deadline.capped(PIPELINE_WAIT_S)):
                deadline.check()
                raise redis.ConnectionError("No connection available: pipelines all busy")
            try:
                return run(raise_on_error)
            finally:
                turns.release()

        pipe.execute = execute
        return pipe


#: Either of Parley's command clients: one Redis, or a cluster.
RedisClient: TypeAlias = redis.Redis | RedisCluster


def connect_cluster(url: str, max_connections: int = 2) -> RedisCluster:
    """The process's cluster client: ``max_connections`` per node (primaries only, since
    nothing reads from replicas), waits bounded as on one Redis."""
    return ParleyCluster.from_url(
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
