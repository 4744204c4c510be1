"""Ids that cannot lie: a Redis turned back to an earlier snapshot (a promoted replica that
had not caught up, a restore from backup) keeps each user's epoch but rewinds ``seq``, so new
events get ids the browser already holds. The browser is told to resync, never left to drop
them as already seen."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.support.clients import ApiClient, StreamReader
from tests.support.servers import ParleyServer, RedisServer, run_parley, start_redis
from tests.support.waiting import wait_until
from webapp.events.types import EventId


@dataclass
class SnapshotRedis:
    """A private Redis whose state the test can turn back to its last ``SAVE``."""

    data_dir: Path
    server: RedisServer

    def command(self, *args: str) -> object:
        with redis.Redis.from_url(self.server.url) as client:
            return client.execute_command(*args)

    def save(self) -> None:
        assert self.command("SAVE")

    def restart(self) -> None:
        """Stop it and start it again on the snapshot file (what ``SAVE`` wrote)."""
        self.server.stop()
        self.server = start_redis(self.server.port, self.data_dir)

    def reload(self) -> None:
        """Load the snapshot in place: every client stays connected, as behind a proxy that
        fails over without dropping its clients."""
        self.command("DEBUG", "RELOAD", "NOSAVE")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[ParleyServer, SnapshotRedis]]:
    data_dir = tmp_path / "redis"
    data_dir.mkdir()
    snapshots = SnapshotRedis(data_dir, start_redis(data_dir=data_dir))
    try:
        with run_parley(tmp_path, REDIS_URL=snapshots.server.url) as server:
            yield server, snapshots
    finally:
        snapshots.server.stop()


class Chat:
    """alice writes to bob; ``say`` waits until bob's ``stream`` shows it."""

    def __init__(self, server: ParleyServer) -> None:
        self.alice = ApiClient(server.url).login("alice", server.password)
        self.bob = ApiClient(server.url).login("bob", server.password)
        self.sid = self.alice.start_dm("bob")["sid"]

    def say(self, stream: StreamReader, text: str) -> EventId:
        body = f"{text} {uuid.uuid4().hex[:8]}"
        assert self.alice.send(self.sid, body).status_code == 201
        added = stream.wait_for("message_added", lambda d: d["message"]["body"] == body, 10)
        event_id = EventId.parse(added.id)
        assert event_id is not None and event_id.tag, added.id
        return event_id

    def say_until_seq(self, seq: int) -> None:
        """Send until bob's log (its render-time cursor) reaches ``seq`` again. Sends made
        while the worker reconnects to Redis may be refused and retried: keep sending."""

        def reached() -> bool:
            self.alice.send(self.sid, f"after the restore {uuid.uuid4().hex[:8]}")
            cursor = EventId.parse(self.bob.stream_cursor())
            return cursor is not None and cursor.seq >= seq

        wait_until(reached, 30, f"bob's log to reach seq {seq} again")


def test_after_a_restore_from_an_older_snapshot_every_stream_is_told_to_resync(
    stack: tuple[ParleyServer, SnapshotRedis],
) -> None:
    server, snapshots = stack
    chat = Chat(server)
    page = StreamReader(chat.bob, chat.bob.stream_cursor())  # stays open through it all
    closed_tab = StreamReader(chat.bob, chat.bob.stream_cursor())
    try:
        assert page.next_event().event == closed_tab.next_event().event == "resumed"
        chat.say(page, "one")
        snapshots.save()
        chat.say(page, "two")
        seen = chat.say(closed_tab, "three")  # the last id this tab saw
        closed_tab.close()

        snapshots.restart()  # the log now ends at "one": same epoch, seq back by two
        chat.say_until_seq(seen.seq)  # the ids the tab holds now name other events

        again = StreamReader(chat.bob, None, **{"Last-Event-ID": str(seen)})
        try:
            assert again.next_event(10).event == "resync"
        finally:
            again.close()
        resync = page.wait_for("resync", timeout=15)
        later = chat.say(page, "after the resync")
        cursor = EventId.parse(resync.data["cursor"])
        assert cursor is not None and cursor.epoch == seen.epoch and later.seq > cursor.seq
    finally:
        page.close()
        closed_tab.close()


def test_a_live_stream_whose_seq_goes_backwards_is_told_to_resync(
    stack: tuple[ParleyServer, SnapshotRedis],
) -> None:
    server, snapshots = stack
    chat = Chat(server)
    page = StreamReader(chat.bob, chat.bob.stream_cursor())
    try:
        assert page.next_event().event == "resumed"
        chat.say(page, "one")
        snapshots.save()
        chat.say(page, "two")
        seen = chat.say(page, "three")
        assert chat.bob.stream_cursor() == str(seen)  # a page rendered now starts from it

        snapshots.reload()  # back to "one", and the page's connection never noticed
        assert chat.alice.send(chat.sid, "four, at the seq of two").status_code == 201
        resync = page.wait_for("resync", timeout=10)
        cursor = EventId.parse(resync.data["cursor"])
        assert cursor is not None and cursor.epoch == seen.epoch and cursor.seq < seen.seq
        later = chat.say(page, "five")  # the stream carries on from the resync's id
        # (the rewound Redis also forgot that "two" and "three" were published: the catch-up
        # publishes them again before "four", so "five" may come a few ids later)
        assert later.seq > cursor.seq
    finally:
        page.close()
