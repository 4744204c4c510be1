"""What the workers hear from Redis per webhook: pub/sub messages received, bytes sent.

Parley's workers count the pub/sub messages they receive (``parley_pubsub_messages_received``
on ``/metrics``, summed over workers, each flushing its count about once a second). Code from
before that counter gets a figure derived from Redis instead: PUBLISH calls times the
subscribers of the shared channel, which is exact when every message goes to that channel.
Redis's own ``total_net_output_bytes`` is everything it wrote to clients: pub/sub messages
and every command's reply (the publish scripts', the streams' log reads, these INFO calls).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

import redis
import requests

from bench import cluster, procs

SHARED_CHANNEL = "parley:events"
_RECEIVED = re.compile(r"^parley_pubsub_messages_received_total (\S+)$", re.M)
#: Each worker flushes its count about once a second: a reading is final once it has not
#: moved for this long.
STILL_S = 1.6
READ_LIMIT_S = 8.0


@dataclass(frozen=True)
class Reading:
    received: float | None
    redis: dict[str, int]
    shared_subscribers: int


class Hearing:
    def __init__(
        self,
        base_url: str,
        token: str,
        server: procs.RedisServer | cluster.ClusterServer,
    ) -> None:
        self._url = base_url + "/metrics"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._server = server

    def _metric(self) -> float | None:
        response = requests.get(self._url, headers=self._headers, timeout=10)
        response.raise_for_status()
        found = _RECEIVED.search(response.text)
        return float(found.group(1)) if found else None

    def _shared_subscribers(self) -> int:
        """Subscribers of the shared channel; on a cluster, over every node (a classic
        subscription may sit on any of them)."""
        if isinstance(self._server, cluster.ClusterServer):
            ports = self._server.ports
        else:
            ports = [self._server.port]
        total = 0
        for port in ports:
            with redis.Redis(port=port, socket_timeout=10) as client:
                total += sum(int(n) for _, n in client.pubsub_numsub(SHARED_CHANNEL))
        return total

    def _read(self) -> Reading:
        """The counter once it is still (every worker has flushed), then Redis's counters."""
        value = self._metric()
        still_since = started = time.monotonic()
        while value is not None and time.monotonic() - started < READ_LIMIT_S:
            time.sleep(0.2)
            again = self._metric()
            if again != value:
                value, still_since = again, time.monotonic()
            elif time.monotonic() - still_since >= STILL_S:
                break
        return Reading(value, self._server.stats(), self._shared_subscribers())

    async def read(self) -> Reading:
        return await asyncio.to_thread(self._read)

    @staticmethod
    def per_phase(
        before: Reading, after: Reading, accepted: int, pids: list[int]
    ) -> dict[str, Any]:
        """The phase's deltas, per webhook and per worker, as record fields."""
        delta = {k: after.redis[k] - before.redis[k] for k in after.redis}
        publishes = delta["publish"] + delta["spublish"]
        if before.received is not None and after.received is not None:
            received, source = after.received - before.received, "metric"
        else:
            received = publishes * after.shared_subscribers
            source = "publishes x NUMSUB parley:events"
        webhooks = max(1, accepted)
        return {
            "pubsub_received": int(received),
            "pubsub_received_source": source,
            "received_per_webhook": round(received / webhooks, 3),
            "received_per_worker_per_webhook": round(received / webhooks / len(pids), 3),
            "redis_bytes_out": delta["net_output_bytes"],
            "redis_bytes_per_webhook": round(delta["net_output_bytes"] / webhooks, 1),
            "redis_repl_bytes_out": delta["net_repl_output_bytes"],
            "redis_publish_calls": delta["publish"],
            "redis_spublish_calls": delta["spublish"],
            "shared_channel_subscribers": after.shared_subscribers,
        }
