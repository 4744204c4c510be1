"""Shared fixtures: a private Redis, and Parley served by gunicorn exactly as the Procfile does.

``--database=postgresql`` (or ``PARLEY_TEST_DATABASE=postgresql``) runs the tests that use
Parley's database (every test that starts a Parley server: integration, security, browser)
against scratch PostgreSQL databases instead of SQLite files; ``make test`` runs the whole
suite on SQLite, then those tests again on PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import settings

from tests.support import databases, host_site, oidc_provider
from tests.support.clients import ApiClient, StreamReader
from tests.support.cluster import RedisCluster, running_cluster
from tests.support.servers import (
    TWILIO_TEST_NUMBER,
    TWILIO_WHATSAPP_SENDER,
    ParleyServer,
    RedisServer,
    run_parley,
    start_redis,
)
from tests.support.waiting import free_port

# In CI the property tests replay the same examples every run: a red CI then means a change
# broke something, never that a new random input turned up. Locally they keep exploring.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


#: Test directories whose tests all run against Parley's database (a server they start).
DATABASE_DIRECTORIES = ("integration", "security", "browser")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database",
        choices=databases.BACKENDS,
        default=databases.backend,
        help="database Parley's test servers use; postgresql selects only the tests that use "
        "it (default: $PARLEY_TEST_DATABASE or sqlite)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cluster: runs on the local Redis Cluster (6 redis-servers, started once)"
    )
    databases.backend = config.getoption("--database")
    if databases.backend == "postgresql" and not hasattr(config, "workerinput"):
        try:
            databases.drop_abandoned()
        except databases.NoPostgres as exc:  # fail the run at once, saying why
            raise pytest.UsageError(f"--database=postgresql: {exc}") from exc


def pytest_report_header(config: pytest.Config) -> str:
    return f"Parley test database: {databases.backend}"


def uses_database(item: pytest.Item) -> bool:
    """True for tests that start a Parley (and so use its database)."""
    tests_dir = Path(__file__).parent
    fixtures = getattr(item, "fixturenames", ())
    if "parley_server" in fixtures:
        return True
    path = Path(str(item.path))
    return path.is_relative_to(tests_dir) and (
        path.relative_to(tests_dir).parts[0] in DATABASE_DIRECTORIES
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests on the Redis Cluster are marked ``cluster`` (``-m "not cluster"`` skips them).
    On PostgreSQL, run only the tests that use the database; the rest ran on SQLite."""
    for item in items:
        if "redis_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)
    if databases.backend != "postgresql":
        return
    skipped = [item for item in items if not uses_database(item)]
    if skipped:
        config.hook.pytest_deselected(items=skipped)
        items[:] = [item for item in items if uses_database(item)]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A real Redis Cluster (3 primaries, 3 replicas), started by the first test that asks
    for it and stopped at the end of the run. Tests that kill or move parts of it restore
    nothing: they use :func:`own_redis_cluster`."""
    with running_cluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster


@pytest.fixture
def own_redis_cluster(tmp_path: Path) -> Iterator[RedisCluster]:
    """A Redis Cluster of the test's own, for tests that kill a primary or move slots."""
    with running_cluster(tmp_path / "redis-cluster") as cluster:
        yield cluster


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A Redis of the test's own, for tests that count its clients or share it on purpose."""
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
def short_sessions(tmp_path: Path, redis_server: RedisServer) -> Iterator[ParleyServer]:
    """A Parley of the test's own whose logins last 3.6 s after the last request."""
    with run_parley(tmp_path, REDIS_URL=redis_server.url, SESSION_LIFETIME_HOURS="0.001") as server:
        yield server


@pytest.fixture(scope="session")
def sms_parley_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParleyServer]:
    """Parley as :func:`parley_server`, plus ``TWILIO_PHONE_NUMBER`` for SMS participants and
    ``TWILIO_WHATSAPP_NUMBER`` for WhatsApp ones.

    With a Redis of its own: Parleys that share a Redis must share a Twilio (presence sweeps
    and announces other processes' users), and each test server has its own emulator."""
    tmp = tmp_path_factory.mktemp("parley-sms")
    redis = start_redis()
    try:
        phone = TWILIO_TEST_NUMBER
        with run_parley(
            tmp,
            REDIS_URL=redis.url,
            TWILIO_PHONE_NUMBER=phone,
            TWILIO_WHATSAPP_NUMBER=TWILIO_WHATSAPP_SENDER,
        ) as server:
            yield server
    finally:
        redis.stop()


@pytest.fixture(scope="session")
def sso_parley_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParleyServer]:
    """A Parley that trusts the host site of :mod:`tests.support.host_site` (sign-in handed
    over by ``POST /sso/login``), with a Redis of its own (see :func:`sms_parley_server`)."""
    with host_site.trusting_parley(tmp_path_factory.mktemp("parley-sso")) as server:
        yield server


class OidcStack(NamedTuple):
    provider: oidc_provider.OidcProvider
    parley: ParleyServer


@pytest.fixture(scope="session")
def oidc_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcStack]:
    """A real OpenID Connect provider (``oidc-provider`` on ``localhost``) and a Parley (on
    ``127.0.0.1``) that offers "Sign in with Test ID" through it; skipped without npm."""
    tmp = tmp_path_factory.mktemp("oidc")
    port = free_port()
    try:
        provider = oidc_provider.start_provider(
            [f"http://127.0.0.1:{port}/oidc/callback"], tmp / "oidc-provider.log"
        )
    except oidc_provider.NoNode as missing:
        pytest.skip(str(missing))
    try:
        with run_parley(tmp, PORT=str(port), **provider.parley_env()) as server:
            yield OidcStack(provider, server)
    finally:
        provider.stop()


@pytest.fixture
def login(parley_server: ParleyServer):  # type: ignore[no-untyped-def]
    """``login("alice")`` → an :class:`ApiClient` logged in as that demo user."""

    def _login(username: str) -> ApiClient:
        return ApiClient(parley_server.url).login(username, parley_server.password)

    return _login


class Listening(NamedTuple):
    """alice, her 1:1 conversation with bob, and bob's stream, already open."""

    alice: ApiClient
    sid: str
    stream: StreamReader


@pytest.fixture
def bob_listening(login) -> Iterator[Listening]:  # type: ignore[no-untyped-def]
    alice, bob = login("alice"), login("bob")
    sid = alice.start_dm("bob")["sid"]
    stream = StreamReader(bob, bob.stream_cursor())
    yield Listening(alice, sid, stream)
    stream.close()
