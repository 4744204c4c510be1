"""Shared fixtures: a private Redis, and Parley served by gunicorn exactly as the Procfile does."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.support.clients import ApiClient
from tests.support.servers import ParleyServer, RedisServer, run_parley, start_redis

# In CI the property tests replay the same examples every run: a red CI then means a change
# broke something, never that a new random input turned up. Locally they keep exploring.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def parley_server(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[ParleyServer]:
    """One gunicorn gevent worker, the in-process emulator, a private Redis, demo users."""
    tmp = tmp_path_factory.mktemp("parley")
    with run_parley(tmp, REDIS_URL=redis_server.url) as server:
        yield server


@pytest.fixture
def login(parley_server: ParleyServer):  # type: ignore[no-untyped-def]
    """``login("alice")`` → an :class:`ApiClient` logged in as that demo user."""

    def _login(username: str) -> ApiClient:
        return ApiClient(parley_server.url).login(username, parley_server.password)

    return _login
