"""A burst of stream openings more than the worker can serve at once, under real gunicorn.

Browsers come back all at once after a network blip or a load balancer failover. Here 200
openings arrive together while Redis stalls for a few seconds (``CLIENT PAUSE``), so that
none can be served for a while. Each client behaves as ``EventSource`` does: an answer other
than 200 is final; a stream that ends is opened again after the ``retry:`` delay it was given,
with its ``Last-Event-ID``. None may get a 5xx; those turned away get a 200 stream with a
retry hint that ends properly; every stream is open in the end.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from tests.support.clients import ApiClient
from tests.support.servers import ParleyServer, RedisServer, run_parley

BURST = 200
#: Longer than the Redis pool's wait and socket timeout (5 s): openings cannot be served.
STALL_MS = 6000
DEADLINE_S = 120.0
_RETRY = re.compile(rb"^retry: (\d+)$", re.M)
_LAST_CHUNK = b"0\r\n\r\n"


@dataclass
class Burst:
    """What the clients saw: every answer's status, the turned-away bodies, the open streams."""

    statuses: list[int] = field(default_factory=list)
    turned_away: list[bytes] = field(default_factory=list)
    opened: list[bytes] = field(default_factory=list)
    held: list[asyncio.StreamWriter] = field(default_factory=list)


@pytest.fixture
def burst_server(tmp_path: Path, private_redis: RedisServer) -> Iterator[ParleyServer]:
    """A Parley of the test's own: its Redis is paused."""
    with run_parley(tmp_path, REDIS_URL=private_redis.url) as server:
        yield server


async def _event_source(port: int, cookie: str, last_event_id: str, burst: Burst) -> None:
    """One client: open, and open again after each turn-away, until its stream is open."""
    request = (
        f"GET /stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
        f"Cookie: {cookie}\r\nLast-Event-ID: {last_event_id}\r\n\r\n"
    ).encode()
    while True:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        burst.statuses.append(int(head.split(b" ", 2)[1]))
        if burst.statuses[-1] != 200:
            writer.close()
            return  # EventSource gives up for good
        body = b""
        while data := await reader.read(65536):
            body += data
            if b"event: resumed" in body or b"event: resync" in body:
                burst.opened.append(body)
                burst.held.append(writer)
                return
        writer.close()
        burst.turned_away.append(body)
        retry = _RETRY.search(body)
        if retry is None:
            return  # a stream that ended without saying when to come back: asserted below
        # EventSource waits as told before it reconnects (the server's hint, not a guess).
        await asyncio.sleep(int(retry.group(1)) / 1000)


async def _open_all(port: int, clients: list[ApiClient], cursors: list[str]) -> Burst:
    burst = Burst()
    tasks = []
    for n in range(BURST):
        client = clients[n % len(clients)]
        cookie = "; ".join(f"{c.name}={c.value}" for c in client.session.cookies)
        tasks.append(_event_source(port, cookie, cursors[n % len(clients)], burst))
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), DEADLINE_S)
    finally:
        for writer in burst.held:
            writer.close()
    return burst


def test_a_burst_of_openings_is_turned_away_to_come_back_and_all_open(
    burst_server: ParleyServer, private_redis: RedisServer
) -> None:
    clients = [
        ApiClient(burst_server.url).login(name, burst_server.password)
        for name in ("alice", "bob", "carol")
    ]
    cursors = [client.stream_cursor() for client in clients]
    redis.Redis.from_url(private_redis.url).execute_command("CLIENT", "PAUSE", STALL_MS, "ALL")
    started = time.monotonic()

    port = urlsplit(burst_server.url).port or 80
    # A thread of its own: Playwright's sync API (browser tests earlier in the session) keeps an
    # event loop running in this one, and asyncio.run refuses to nest.
    with ThreadPoolExecutor(1) as thread:
        burst = thread.submit(asyncio.run, _open_all(port, clients, cursors)).result()

    assert [s for s in burst.statuses if s != 200] == []
    assert burst.turned_away, "the burst was served at once: it tested nothing"
    for body in burst.turned_away:
        assert _RETRY.search(body), body
        assert b"event: reconnect" in body and body.endswith(_LAST_CHUNK), body
    assert len(burst.opened) == BURST
    # Turned away and back with their Last-Event-ID: resumed, not told to resync.
    assert all(b"event: resumed" in body for body in burst.opened)
    assert time.monotonic() - started < DEADLINE_S
    # Open streams hold no database connection: the API still gets one at once.
    assert clients[0].get("/api/users").status_code == 200
