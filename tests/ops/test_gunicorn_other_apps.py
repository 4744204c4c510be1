"""``gunicorn.conf.py`` serves an app that is not Parley too: the benchmark runs its peers
(Flask-SSE, the reference hub) under exactly Parley's settings, so the hooks that start and
end Parley's services leave other apps alone."""

from __future__ import annotations

import signal
import subprocess
import urllib.request
from pathlib import Path

from tests.support.servers import BIN, ROOT, parley_env
from tests.support.waiting import free_port, wait_until


def test_a_plain_wsgi_app_boots_serves_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "werkzeug.testapp:test_app"],
            cwd=ROOT,
            env=parley_env(tmp_path, port),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        page = wait_until(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).status,
            30,
            "the app to answer",
        )
        assert page == 200
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(30)

    output = log.read_text(errors="replace")
    assert code == 0, output
    assert "Traceback" not in output
