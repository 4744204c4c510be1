"""A worker restarted under an open page (a deploy): the page comes back by itself, on the
new worker, and shows what was sent meanwhile."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PAGE_MS, alice_watching_bob
from tests.support.servers import ParleyServer, RedisServer, run_parley
from tests.support.waiting import wait_until


@pytest.fixture
def restartable(tmp_path: Path, redis_server: RedisServer) -> Iterator[ParleyServer]:
    """A Parley of the test's own whose Twilio (the emulator) keeps its state on disk, so the
    conversations outlive the worker, as Twilio's do."""
    with run_parley(
        tmp_path,
        REDIS_URL=redis_server.url,
        TWILIO_EMULATOR_PERSIST=str(tmp_path / "emulator.sqlite3"),
    ) as server:
        yield server


def _worker(server: ParleyServer) -> int | None:
    master = server.process.pid
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0]) if len(children) == 1 else None


def test_the_page_comes_back_after_a_worker_restart_with_what_it_missed(
    browser: Any, restartable: ParleyServer
) -> None:
    with alice_watching_bob(browser, restartable) as (alice, bob, sid, _):
        old = _worker(restartable)
        assert old is not None
        os.kill(old, signal.SIGTERM)  # what a deploy does; the master starts a new worker
        wait_until(lambda: _worker(restartable) not in (None, old), 30, "a new worker")
        during = f"meanwhile {uuid.uuid4().hex[:6]}"
        wait_until(lambda: bob.send(sid, during).status_code == 201, 30, "bob's message sent")

        expect(alice.message(during)).to_be_visible(timeout=PAGE_MS)
        assert alice.message_bodies().count(during) == 1
        assert not alice.script_errors
