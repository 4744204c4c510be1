"""Issue 6's "done when": Parley started exactly as the Procfile starts it (the release step,
then gunicorn with gevent and two workers), on PostgreSQL and a real Redis, with the emulator
standalone as live Twilio would be, set up by `twilio setup`, passing `twilio doctor`, and
carrying the two-user chat."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.ops.postgres import scratch_database
from tests.support.clients import ApiClient, StreamReader
from tests.support.servers import BIN, ROOT, flask_cli, parley_env, start_redis
from tests.support.waiting import free_port, port_open, wait_until
from webapp.events.types import EventId

METRICS_TOKEN = "stack-metrics-token"


def procfile() -> dict[str, str]:
    """``{"web": command, "release": command}`` as the platform reads the Procfile."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and ":" in line)


def run_as_platform(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """The command through a shell, as Heroku runs a Procfile line ($PORT expanded)."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            ["bash", "-c", f"exec {command}"], cwd=ROOT, env=env, stdout=out, stderr=out
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    web_log: Path
    master_pid: int

    def workers(self) -> set[int]:
        """The gunicorn master's worker processes, as the kernel lists them."""
        path = Path(f"/proc/{self.master_pid}/task/{self.master_pid}/children")
        return {int(pid) for pid in path.read_text().split()}

    def login(self, username: str) -> ApiClient:
        return ApiClient(self.url).login(username, self.env["DEMO_PASSWORD"])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    redis = start_redis()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with scratch_database() as database_url:
            port, emulator_port = free_port(), free_port()
            url = f"http://127.0.0.1:{port}"
            env = parley_env(
                tmp,
                port,
                DATABASE_URL=database_url.replace("postgresql://", "postgres://"),  # Heroku's
                REDIS_URL=redis.url,
                TWILIO_EMULATOR_URL=f"http://127.0.0.1:{emulator_port}",
                PUBLIC_BASE_URL=url,
                WEB_CONCURRENCY="2",
                METRICS_TOKEN=METRICS_TOKEN,
                LOG_FORMAT="json",
                PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            )
            emulator_log = tmp / "emulator.log"
            processes.append(
                run_as_platform(
                    f"flask --app wsgi emulator run --port {emulator_port}", env, emulator_log
                )
            )
            wait_until(lambda: port_open(emulator_port), 30, "the standalone emulator")

            commands = procfile()
            release = subprocess.run(
                ["bash", "-c", commands["release"]],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert release.returncode == 0, release.stdout + release.stderr
            flask_cli(env, "users", "demo")

            web_log = tmp / "web.log"
            web = run_as_platform(commands["web"], env, web_log)
            processes.append(web)

            def ready() -> bool:
                assert web.poll() is None, web_log.read_text()
                return requests.get(url + "/login", timeout=2).status_code == 200

            wait_until(ready, 60, "gunicorn to serve /login")
            yield Stack(url, env, web_log, web.pid)
    finally:
        for process in reversed(processes):
            stop(process)
        redis.stop()


def test_release_then_web_run_two_gevent_workers(stack: Stack) -> None:
    def booted() -> int:
        return stack.web_log.read_text().count("Booting worker") >= 2

    wait_until(booted, 30, "two gunicorn workers")
    assert "Using worker: gevent" in stack.web_log.read_text()


def test_twilio_setup_then_doctor_pass_against_the_running_stack(stack: Stack) -> None:
    setup = flask_cli(stack.env, "twilio", "setup", "--public-url", stack.url)
    assert f"PUBLIC_BASE_URL={stack.url}" in setup
    again = flask_cli(stack.env, "twilio", "setup", "--public-url", stack.url)
    assert "Nothing to change" in again
    assert "All checks passed" in flask_cli(stack.env, "twilio", "doctor")


def test_alice_and_bob_chat_through_the_procfile_stack(stack: Stack) -> None:
    alice, bob = stack.login("alice"), stack.login("bob")
    bob_stream = StreamReader(bob, bob.stream_cursor())
    try:
        conversation = alice.start_dm("bob")
        body = f"hello bob {uuid.uuid4().hex[:8]}"
        sent = alice.send(conversation["sid"], body)
        assert sent.status_code == 201, sent.text

        got = bob_stream.wait_for("message_added", lambda d: d["message"]["body"] == body, 15)
        assert got.data["conversation_sid"] == conversation["sid"]
        assert got.data["message"]["author"] == "alice"
    finally:
        bob_stream.close()
    for reader in (alice, bob):
        history = reader.get(f"/api/conversations/{conversation['sid']}/messages").json()
        assert [m["body"] for m in history["messages"]][-1] == body


def test_health_metrics_and_json_request_logs(stack: Stack) -> None:
    health = requests.get(stack.url + "/healthz", timeout=10)
    assert health.status_code == 200, health.text
    checks = health.json()["checks"]
    assert checks["database"]["detail"] == "postgresql"
    assert checks["redis"]["ok"] and checks["twilio"]["ok"]

    scrape = requests.get(
        stack.url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
    )
    assert scrape.status_code == 200
    assert "parley_webhooks_total" in scrape.text

    request_id = health.headers["X-Request-Id"]
    entries = [
        json.loads(line) for line in stack.web_log.read_text().splitlines() if line.startswith("{")
    ]
    [line] = [e for e in entries if e.get("request_id") == request_id]
    assert (line["path"], line["status"]) == ("/healthz", 200)


def test_workers_killed_mid_stream_lose_nothing(stack: Stack) -> None:
    """Every worker dies at once (a crash, an OOM kill): Bob's browser reconnects with its
    Last-Event-ID to whichever new worker answers and gets exactly what it missed."""
    alice, bob = stack.login("alice"), stack.login("bob")
    sid = alice.start_dm("bob")["sid"]
    stream = StreamReader(bob, bob.stream_cursor())
    first = f"before the crash {uuid.uuid4().hex[:8]}"
    alice.send(sid, first)
    seen = stream.wait_for("message_added", lambda d: d["message"]["body"] == first, 15)

    old_workers = wait_until(lambda: stack.workers() if len(stack.workers()) == 2 else None)
    for pid in old_workers:
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: len(stack.workers() - old_workers) == 2, 30, "gunicorn to respawn workers")
    stream.close()

    missed = [f"while away {n} {uuid.uuid4().hex[:8]}" for n in range(3)]
    for body in missed:
        wait_until(lambda body=body: alice.send(sid, body).status_code == 201, 15, "a send")
    again = StreamReader(bob, None, **{"Last-Event-ID": seen.id or ""})
    try:
        assert again.next_event(10).event == "resumed"
        replayed = [again.wait_for("message_added", timeout=15) for _ in missed]
        assert [e.data["message"]["body"] for e in replayed] == missed
        ids = [EventId.parse(e.id) for e in replayed]
        seqs = [i.seq for i in ids if i is not None]
        assert len(seqs) == len(replayed)
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    finally:
        again.close()
