"""A query string with raw bytes that are not UTF-8 (no browser sends them; a script can) is
answered 400 on every kind of route, never 500: by gunicorn itself in production (it refuses
such a request line), and by the app behind any server that passes them on."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.security.conftest import app_for
from tests.support.servers import ParleyServer
from webapp import create_app
from webapp.errors import wants_json


def _raw_get(url: str, target: bytes) -> tuple[int, bytes]:
    """The status and body of ``GET <target>`` sent byte for byte (requests would escape it)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            b"GET " + target + b" HTTP/1.1\r\nHost: " + parts.netloc.encode() + b"\r\n"
            b"Connection: close\r\n\r\n"
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


TARGETS = [b"/login?next=\xff", b"/api/conversations?cursor=\xfe\xff", b"/stream?cursor=\xff"]


@pytest.mark.parametrize("target", TARGETS)
def test_the_real_server_answers_400(parley_server: ParleyServer, target: bytes) -> None:
    status, body = _raw_get(parley_server.url, target)
    assert status == 400, body[:300]


@pytest.mark.parametrize("target", [*TARGETS, b"/?embed=\xff", b"/healthz?x=\xc3"])
def test_the_app_answers_400_with_a_message(tmp_path: Path, target: bytes) -> None:
    app = create_app(app_for(tmp_path))
    try:
        path, _, query = target.partition(b"?")
        answer = app.test_client().get(
            path.decode(), environ_overrides={"QUERY_STRING": query.decode("latin-1")}
        )
        assert answer.status_code == 400
        if wants_json(path.decode()):
            assert (
                answer.get_json()["error"]["message"] == "The address's query is not valid UTF-8."
            )
        else:
            assert b"not valid UTF-8" in answer.data
    finally:
        app.extensions["parley"].broker.close()
