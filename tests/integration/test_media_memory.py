"""A 100 MB file through Parley costs its worker a chunk at a time, not the file: measured on
the gunicorn worker of a Parley of its own (its in-process emulator keeps the bytes on disk),
whose peak resident size must not grow by more than 20 MB while it takes a 100 MB upload and
serves it back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulator.test_media_memory import MB, peak_rss
from tests.integration.test_media_upload import uploaded
from tests.support.clients import ApiClient
from tests.support.servers import ParleyServer, run_parley
from tests.support.waiting import wait_until

CHUNK = b"\x00" * (256 * 1024)
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42"


class Zeros:
    """100 MB read as it is sent; its length known, so requests sends a Content-Length."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.size = size

    def __len__(self) -> int:
        return self.size

    def read(self, size: int = -1) -> bytes:
        count = min(self.left, len(CHUNK) if size < 0 else min(size, len(CHUNK)))
        self.left -= count
        return CHUNK[:count]


@pytest.fixture
def big_files(tmp_path: Path) -> Iterator[ParleyServer]:
    with run_parley(tmp_path, MEDIA_MAX_BYTES=str(150 * MB)) as server:
        yield server


def worker_pid(server: ParleyServer) -> int:
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    found = wait_until(lambda: children.read_text().split() or None, 10, "the gunicorn worker")
    return int(found[0])


def test_a_100_mb_upload_does_not_grow_the_worker_by_more_than_20_mb(
    big_files: ParleyServer,
) -> None:
    alice = ApiClient(big_files.url).login("alice", big_files.password)
    sid = alice.start_dm("bob")["sid"]
    pid = worker_pid(big_files)
    uploaded(alice, sid, MP4_HEAD, "video/mp4", "warm.mp4")
    before = peak_rss(pid)

    answer = alice.session.post(
        f"{alice.base_url}/api/conversations/{sid}/media",
        data=Zeros(100 * MB),
        params={"filename": "big.mp4"},
        headers={"Content-Type": "video/mp4", "X-CSRFToken": alice.csrf_token},
        timeout=300,
    )
    assert answer.status_code == 201, answer.text
    media = answer.json()["media"]
    assert media["size"] == 100 * MB
    sent = alice.post(f"/api/conversations/{sid}/messages", {"media_sids": [media["sid"]]})
    assert sent.status_code == 201, sent.text
    with alice.session.get(f"{alice.base_url}/api/media/{media['sid']}", stream=True) as got:
        assert got.status_code == 200
        assert sum(len(c) for c in got.iter_content(1024 * 1024)) == 100 * MB

    growth = peak_rss(pid) - before
    assert growth < 20 * MB, f"the worker's peak RSS grew by {growth / MB:.1f} MB"
