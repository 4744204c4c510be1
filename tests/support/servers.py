"""Real servers for the tests: a private redis-server, and Parley under gunicorn + gevent."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import BaseWSGIServer, make_server

from tests.support.databases import parley_database
from tests.support.waiting import free_port, port_open, wait_until

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


#: The Twilio number SMS participants are texted from in tests (Twilio's magic test number).
TWILIO_TEST_NUMBER = "+15005550006"
#: Twilio's WhatsApp sandbox sender, the WhatsApp number test Parleys reach WhatsApp users from.
TWILIO_WHATSAPP_SENDER = "+14155238886"


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def start_redis(port: int | None = None, data_dir: Path | None = None) -> RedisServer:
    """A private, memory-only redis-server on a free port (never the machine's shared one).

    With ``data_dir``, a snapshot taken with ``SAVE`` goes there, a server started again on
    it loads it, and ``DEBUG RELOAD`` is allowed: how tests turn Redis back to an earlier
    state, as a failover or a restore from backup does."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = port or free_port()
    snapshots = ["--dir", str(data_dir), "--enable-debug-command", "local"] if data_dir else []
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        + snapshots,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: port_open(port), 10, "redis-server to listen")
    return RedisServer(port, process)


@dataclass
class ParleyServer:
    """A running Parley: ``url``, the demo users' ``password``, the webhook ``auth_token``."""

    url: str
    password: str
    auth_token: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, object] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def start(self) -> None:
        """Start gunicorn again after :meth:`stop`: the same port, database and Redis."""
        self.process = _gunicorn(self.env, self.log_path)
        _wait_ready(self)


def parley_env(tmp: Path, port: int, **overrides: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO_", "REDIS_", "DATABASE_", "PUBLIC_BASE", "PARLEY_"))
    }
    env.update(
        {
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "SECRET_KEY": "test-secret-key",
            "DATABASE_URL": f"sqlite:///{tmp / 'parley.sqlite3'}",
            "DEMO_PASSWORD": "demo-password-123",
            "TWILIO_AUTH_TOKEN": "test-webhook-token",
            "WEB_CONCURRENCY": "1",
        }
    )
    env.update(overrides)
    return env


def flask_cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@contextmanager
def run_parley(tmp: Path, **overrides: str) -> Iterator[ParleyServer]:
    """Parley exactly as the Procfile runs it (gunicorn, gevent), with demo users, on the
    run's database backend (a database of its own, dropped after) unless ``DATABASE_URL`` is
    given."""
    if "DATABASE_URL" in overrides:
        with _serve_parley(tmp, **overrides) as server:
            yield server
        return
    with (
        parley_database(tmp) as database_url,
        _serve_parley(tmp, **overrides, DATABASE_URL=database_url) as server,
    ):
        yield server


def _gunicorn(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def _wait_ready(server: ParleyServer) -> None:
    def ready() -> bool:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{server.log()}")
        return requests.get(server.url + "/login", timeout=2).status_code == 200

    wait_until(ready, 30, "Parley to serve /login")


@contextmanager
def _serve_parley(tmp: Path, **overrides: str) -> Iterator[ParleyServer]:
    """``PORT`` among ``overrides`` chooses the port (e.g. one a standalone emulator already
    posts its webhooks to); otherwise a free one."""
    port = int(overrides.get("PORT") or free_port())
    env = parley_env(tmp, port, **overrides)
    flask_cli(env, "init-db")
    flask_cli(env, "users", "demo")
    log_path = tmp / f"gunicorn-{port}.log"
    server = ParleyServer(
        url=f"http://127.0.0.1:{port}",
        password=env["DEMO_PASSWORD"],
        auth_token=env["TWILIO_AUTH_TOKEN"],
        env=env,
        process=_gunicorn(env, log_path),
        log_path=log_path,
    )
    try:
        _wait_ready(server)
        yield server
    finally:
        server.stop()


class Served:
    """A WSGI app served by werkzeug from a thread on 127.0.0.1, on ``port`` or a free one."""

    def __init__(self, app: Callable[..., Any], port: int = 0) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", port, app, threaded=True)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
