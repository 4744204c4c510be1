"""What the workers hear from Redis per webhook: pub/sub messages received, bytes sent.

Parley's workers count the pub/sub messages they receive (``parley_pubsub_messages_received``
on ``/metrics``, summed over workers, each flushing its count about once a second). Code from
before that counter gets a figure derived from Redis instead: PUBLISH calls times the
subscribers of the shared channel, which is exact when every message goes to that channel.
Redis's own ``total_net_output_bytes`` is everything it wrote to clients: pub/sub messages
and every command's reply (the publish scripts', the streams' log reads, these INFO calls).
The peers (Flask-SSE, the hub) have no metrics: theirs is PUBLISH calls times the mean
subscribers of their channels (one per stream for Flask-SSE, one per worker for the hub).
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
    #: Subscribers of each published message: of the shared channel (Parley), or the mean
    #: over a peer's channels.
    shared_subscribers: float
    subscribers_of: str = SHARED_CHANNEL


class Hearing:
    def __init__(
        self,
        base_url: str,
        token: str,
        server: procs.RedisServer | cluster.ClusterServer,
        peer_channels: list[str] | None = None,
    ) -> None:
        """``peer_channels``: a peer's channels, one per conversation (a peer has no
        ``/metrics``); None for Parley."""
        self._url = base_url + "/metrics"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._server = server
        self._peer_channels = peer_channels

    def _metric(self) -> float | None:
        response = requests.get(self._url, headers=self._headers, timeout=10)
        response.raise_for_status()
        found = _RECEIVED.search(response.text)
        return float(found.group(1)) if found else None

    def _shared_subscribers(self) -> float:
        """Subscribers of the shared channel; on a cluster, over every node (a classic
        subscription may sit on any of them). For a peer, the mean over its channels."""
        if self._peer_channels is not None:
            assert isinstance(self._server, procs.RedisServer)
            with self._server.client() as client:
                counts = client.pubsub_numsub(*self._peer_channels)
            return sum(int(n) for _, n in counts) / max(1, len(counts))
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
        value = self._metric() if self._peer_channels is None else None
        still_since = started = time.monotonic()
        while value is not None and time.monotonic() - started < READ_LIMIT_S:
            time.sleep(0.2)
            again = self._metric()
            if again != value:
                value, still_since = again, time.monotonic()
            elif time.monotonic() - still_since >= STILL_S:
                break
        subscribers_of = SHARED_CHANNEL if self._peer_channels is None else "its channels (mean)"
        return Reading(value, self._server.stats(), self._shared_subscribers(), subscribers_of)

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
            source = f"publishes x NUMSUB {after.subscribers_of}"
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
