"""A 100 MB upload costs the emulator's MCS disk, not memory: measured on a standalone
emulator process (`python -m twilio_emulator run`), whose peak resident size must not grow by
more than 20 MB while it takes 100 MB raw and 100 MB as multipart, both sent without a length."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.emulator.conftest import AUTH, EMULATOR_SERVICE_SID
from tests.support.waiting import free_port, port_open, wait_until

MB = 1024 * 1024
CHUNK = b"z" * (256 * 1024)
BOUNDARY = "emulator-memory-test"


def peak_rss(pid: int) -> int:
    """The process's peak resident set size (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def chunks(size: int) -> Iterator[bytes]:
    for _ in range(size // len(CHUNK)):
        yield CHUNK


def multipart(size: int) -> Iterator[bytes]:
    """A multipart body made as it is sent, so the test holds no copy of it either."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="FileName"\r\n\r\nbig.mp4\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="Media"; filename="big.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    yield from chunks(size)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "twilio_emulator",
            "run",
            "--port",
            str(port),
            "--persist",
            str(tmp_path / "emulator.sqlite3"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: port_open(port), 20, "the emulator to listen")
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait(10)


def test_a_100_mb_upload_does_not_grow_the_emulator_by_more_than_20_mb(
    standalone: tuple[str, int],
) -> None:
    url, pid = standalone
    media = f"{url}/mcs/v1/Services/{EMULATOR_SERVICE_SID}/Media"
    warm = requests.post(media, data=b"x", headers={"Content-Type": "a/b"}, auth=AUTH, timeout=30)
    assert warm.status_code == 201, warm.text
    before = peak_rss(pid)

    raw = requests.post(
        media, data=chunks(100 * MB), headers={"Content-Type": "video/mp4"}, auth=AUTH, timeout=120
    )
    assert raw.status_code == 201 and raw.json()["size"] == 100 * MB, raw.text
    parts = requests.post(
        media,
        data=multipart(100 * MB),
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        auth=AUTH,
        timeout=120,
    )
    assert parts.status_code == 201, parts.text
    assert (parts.json()["size"], parts.json()["filename"]) == (100 * MB, "big.mp4")

    growth = peak_rss(pid) - before
    assert growth < 20 * MB, f"the emulator's peak RSS grew by {growth / MB:.1f} MB"
