"""`GET /healthz` answers the platform's probe: 200 when database, Redis and Twilio answer,
503 naming the one that does not. No login needed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import redis

from tests.ops.conftest import RunningEmulator, parley_config
from tests.support.servers import RedisServer
from tests.support.waiting import free_port
from webapp import create_app
from webapp.ops.health import redis_too_old

StartEmulator = Callable[..., RunningEmulator]


def healthz(tmp_path: Path, **env: str) -> tuple[int, dict[str, dict[str, object]]]:
    app = create_app(parley_config(tmp_path, **env))
    try:
        response = app.test_client().get("/healthz")
    finally:
        app.extensions["parley"].broker.close()
    body = response.get_json()
    return response.status_code, body["checks"]


def test_healthy_with_the_in_process_emulator_and_no_login(tmp_path: Path) -> None:
    status, checks = healthz(tmp_path)
    assert status == 200
    assert checks == {
        "database": {"ok": True, "detail": "sqlite"},
        "twilio": {"ok": True, "detail": "emulator (in-process)"},
    }


def test_redis_is_checked_when_configured(tmp_path: Path, redis_server: RedisServer) -> None:
    status, checks = healthz(tmp_path, REDIS_URL=redis_server.url)
    assert status == 200
    with redis.Redis.from_url(redis_server.url) as client:
        version = client.info("server")["redis_version"]
    assert checks["redis"] == {"ok": True, "detail": f"Redis {version}"}


def test_a_redis_older_than_parleys_logs_need_is_unhealthy() -> None:
    """Checked by its version: a Redis 6 answers the ping, then fails every publish."""
    assert [redis_too_old(v) for v in ("6.2.14", "7.0.15", "7.2.4", "8.0.0")] == [
        True,
        False,
        False,
        False,
    ]
    assert not redis_too_old("unknown")


def test_unreachable_redis_makes_it_unhealthy(tmp_path: Path) -> None:
    status, checks = healthz(tmp_path, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert status == 503
    assert checks["redis"]["ok"] is False
    assert checks["database"]["ok"] is True


def test_unreachable_database_makes_it_unhealthy(tmp_path: Path) -> None:
    status, checks = healthz(tmp_path, DATABASE_URL=f"postgresql://u@127.0.0.1:{free_port()}/x")
    assert status == 503
    assert checks["database"]["ok"] is False
    assert "OperationalError" in str(checks["database"]["detail"])


def test_a_standalone_emulator_is_asked_for_the_service(
    tmp_path: Path, start_emulator: StartEmulator
) -> None:
    emulator = start_emulator()
    status, checks = healthz(tmp_path, TWILIO_EMULATOR_URL=emulator.url)
    assert status == 200
    assert checks["twilio"]["ok"] is True
    assert ("GET", f"/v1/Services/{emulator.state.settings.service_sid}") in emulator.requests


def test_twilio_refusing_the_credentials_makes_it_unhealthy(
    tmp_path: Path, start_emulator: StartEmulator
) -> None:
    emulator = start_emulator()
    status, checks = healthz(
        tmp_path, TWILIO_EMULATOR_URL=emulator.url, TWILIO_AUTH_TOKEN="wrong-token"
    )
    assert status == 503
    assert checks["twilio"]["ok"] is False
    assert "Authentication" in str(checks["twilio"]["detail"])


def test_twilio_is_asked_at_most_once_per_interval(
    tmp_path: Path, start_emulator: StartEmulator
) -> None:
    emulator = start_emulator()
    app = create_app(parley_config(tmp_path, TWILIO_EMULATOR_URL=emulator.url))
    client = app.test_client()
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    fetches = [r for r in emulator.requests if r[0] == "GET" and r[1].startswith("/v1/Services")]
    assert len(fetches) == 1
