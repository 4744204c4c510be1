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
from sqlalchemy import text
from twilio.rest import Client

from webapp.config import Config
from webapp.extensions import db
from webapp.twilio_gateway import GatewayError
from webapp.twilio_gateway.service_setup import fetch_service_name

TWILIO_CHECK_SECONDS = 30.0


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


class RedisCheck:
    """Pings Redis over one dedicated connection (not the broker's small pool)."""

    def __init__(self, url: str) -> None:
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=1, timeout=2, socket_timeout=2, socket_connect_timeout=2
        )
        self._client = redis.Redis(connection_pool=pool)

    def __call__(self) -> Check:
        try:
            self._client.ping()
        except redis.RedisError as exc:
            return Check(False, f"unreachable ({exc.__class__.__name__})")
        return Check(True, "ping ok")


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
