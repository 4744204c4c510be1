"""Health checks for the platform's probe (``GET /healthz``): database, Redis, Twilio.

Each check answers ``(ok, detail)``. The Twilio check is one authenticated GET of the
service, remembered for :data:`TWILIO_CHECK_SECONDS` so a probe every few seconds does not
become a stream of API calls.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import redis
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException
from sqlalchemy import text
from twilio.rest import Client

from webapp.config import Config
from webapp.extensions import db
from webapp.twilio_gateway import GatewayError
from webapp.twilio_gateway.service_setup import fetch_service_name

TWILIO_CHECK_SECONDS = 30.0
#: The Redis check's pool: one connection, and a probe never waits more than 2 s on it.
_ONE_SHORT_CONNECTION: dict[str, float] = {
    "max_connections": 1,
    "timeout": 2,
    "socket_timeout": 2,
    "socket_connect_timeout": 2,
}


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str

    def as_json(self) -> dict[str, object]:
        return {"ok": self.ok, "detail": self.detail}


def check_database() -> Check:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy", reported
        db.session.rollback()
        return Check(False, f"unreachable ({exc.__class__.__name__})")
    return Check(True, db.engine.dialect.name)


#: The oldest Redis Parley's logs run on: a log's seq is numbered by ``XADD key 0-*`` and its
#: epoch made by ``SET … NX GET``, both from Redis 7.0 (a cluster needs 7.0 for ``SPUBLISH``).
MIN_REDIS = (7, 0)


def redis_too_old(version: str) -> bool:
    """Whether ``version`` (``INFO``'s ``redis_version``) predates :data:`MIN_REDIS`; a
    version that cannot be read is left to the commands themselves."""
    try:
        major, minor = (int(part) for part in version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) < MIN_REDIS


class RedisCheck:
    """Asks Redis for its version over one dedicated connection (not the broker's small pool):
    one older than :data:`MIN_REDIS` is unhealthy, since every publish would fail; on a
    cluster, pings each primary, and the cluster must say ``cluster_state:ok`` (every slot
    served: a primary down with no replica to take over is unhealthy)."""

    def __init__(self, url: str, cluster: bool = False) -> None:
        self._url = url
        self._cluster: RedisCluster | None = None
        self._lock = threading.Lock()
        self._client: redis.Redis | None = None
        if not cluster:
            pool = redis.BlockingConnectionPool.from_url(url, **_ONE_SHORT_CONNECTION)
            self._client = redis.Redis(connection_pool=pool)

    def __call__(self) -> Check:
        try:
            if self._client is not None:
                version = str(self._client.info("server").get("redis_version", ""))
                if redis_too_old(version):
                    return Check(False, f"Redis {version}: Parley needs 7.0 or later")
                return Check(True, f"Redis {version}")
            return self._check_cluster()
        except (redis.RedisError, RedisClusterException) as exc:
            return Check(False, f"unreachable ({exc.__class__.__name__})")

    def _check_cluster(self) -> Check:
        # Built at the first probe, not at start-up: RedisCluster reads the slot map
        # when it is made, and a probe must report Redis down, not keep Parley from starting.
        with self._lock:
            if self._cluster is None:
                self._cluster = RedisCluster.from_url(
                    self._url,
                    connection_pool_class=redis.BlockingConnectionPool,
                    **_ONE_SHORT_CONNECTION,
                )
            client = self._cluster
        client.ping(target_nodes=RedisCluster.PRIMARIES)
        state = client.cluster_info(target_nodes=RedisCluster.RANDOM).get("cluster_state")
        if state != "ok":
            return Check(False, f"cluster_state:{state}")
        return Check(True, f"cluster ok, {len(client.get_primaries())} primaries")


class TwilioCheck:
    """Live Twilio or a standalone emulator: fetch the service. In-process emulator: it is
    part of this server, so reachable by definition."""

    def __init__(self, config: Config, ttl: float = TWILIO_CHECK_SECONDS) -> None:
        self._config = config
        self._ttl = ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, Check] | None = None

    def __call__(self, client: Client) -> Check:
        if self._config.emulator_in_process:
            return Check(True, "emulator (in-process)")
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self._ttl:
                return self._cached[1]
        check = self._fetch(client)
        with self._lock:
            self._cached = (time.monotonic(), check)
        return check

    def _fetch(self, client: Client) -> Check:
        where = "Twilio" if self._config.LIVE_TWILIO else "emulator"
        sid = self._config.TWILIO_CONVERSATIONS_SERVICE_SID
        if not sid:
            return Check(False, "TWILIO_CONVERSATIONS_SERVICE_SID is not set")
        try:
            fetch_service_name(client, sid)
        except GatewayError as exc:
            return Check(False, f"{where}: {exc.message}")
        return Check(True, f"{where}: service {sid} reachable")
