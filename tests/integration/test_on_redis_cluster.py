"""Parley on a real Redis Cluster (``REDIS_CLUSTER=1``), two gevent workers: live chat,
resume by ``Last-Event-ID``, and a slot moved under open streams (issue 16)."""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from redis.crc import key_slot

from tests.support.clients import ApiClient, StreamReader
from tests.support.cluster import RedisCluster, running_cluster
from tests.support.servers import ParleyServer, Served, run_parley
from tests.support.waiting import free_port, wait_until
from twilio_emulator import EmulatorSettings, create_emulator_app
from webapp.events.redis_channels import user_channel

pytestmark = pytest.mark.cluster

TOKEN = "cluster-webhook-token"


class OnCluster:
    def __init__(self, cluster: RedisCluster, parley: ParleyServer) -> None:
        self.cluster, self.parley = cluster, parley

    def login(self, username: str) -> ApiClient:
        return ApiClient(self.parley.url).login(username, self.parley.password)


@contextmanager
def _parley_on_a_cluster(tmp: Path, **settings: Any) -> Iterator[OnCluster]:
    """Parley with two workers on a cluster of its own, and Twilio's emulator standalone (as
    several workers need: one Twilio for all)."""
    port = free_port()
    twilio = create_emulator_app(
        EmulatorSettings(
            auth_token=TOKEN,
            post_webhook_url=f"http://127.0.0.1:{port}/twilio/webhook",
            **settings,
        )
    )
    served = Served(twilio)
    try:
        with (
            running_cluster(tmp / "redis-cluster") as cluster,
            run_parley(
                tmp,
                PORT=str(port),
                REDIS_URL=cluster.url,
                REDIS_CLUSTER="1",
                TWILIO_EMULATOR_URL=served.url,
                TWILIO_AUTH_TOKEN=TOKEN,
                WEB_CONCURRENCY="2",
            ) as parley,
        ):
            yield OnCluster(cluster, parley)
    finally:
        served.stop()
        twilio.extensions["twilio_emulator"].close()


@pytest.fixture(scope="module")
def on_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OnCluster]:
    with _parley_on_a_cluster(tmp_path_factory.mktemp("parley-cluster")) as stack:
        yield stack


def _body(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:8]}"


def test_chat_is_live_and_resumes_on_a_cluster(on_cluster: OnCluster) -> None:
    alice, bob = on_cluster.login("alice"), on_cluster.login("bob")
    stream = StreamReader(bob, bob.stream_cursor())
    sid = alice.start_dm("bob")["sid"]
    first = _body("hello")
    assert alice.send(sid, first).status_code == 201
    got = stream.wait_for("message_added", lambda d: d["message"]["body"] == first)
    stream.close()
    missed = [_body("while away 1"), _body("while away 2")]
    for body in missed:
        assert alice.send(sid, body).status_code == 201
    resumed = StreamReader(bob, **{"Last-Event-ID": got.id or ""})
    for body in missed:
        resumed.wait_for("message_added", lambda d, b=body: d["message"]["body"] == b)
    assert _bodies(resumed) == missed  # each once, nothing from before the cursor
    resumed.close()


def test_a_slot_moved_while_messages_flow_loses_and_doubles_nothing(
    on_cluster: OnCluster,
) -> None:
    alice, carol = on_cluster.login("alice"), on_cluster.login("carol")
    stream = StreamReader(carol, carol.stream_cursor())
    sid = alice.start_dm("carol")["sid"]
    sent: list[str] = []
    answers: list[int] = []
    moved = threading.Event()

    def keep_sending() -> None:
        """Messages one after another until three more went after the move."""
        after = 0
        while after < 3:
            body = _body(f"message {len(sent)}")
            _send(alice, sid, body, answers)
            sent.append(body)
            after += moved.is_set()

    sender = threading.Thread(target=keep_sending)
    sender.start()
    wait_until(lambda: len(sent) >= 2, 30, "messages flowing")
    on_cluster.cluster.move_slots([key_slot(user_channel("carol").encode())])
    moved.set()
    sender.join(120)
    assert not sender.is_alive()
    stream.wait_for("message_added", lambda d: d["message"]["body"] == sent[-1], 30)
    assert _bodies(stream) == sent  # in order, each once
    assert set(answers) <= {201, 503}, answers
    stream.close()


def _send(client: ApiClient, sid: str, body: str, answers: list[int]) -> None:
    """Send ``body``, again after a 503 (Redis failing over), as a page would."""

    def sent() -> bool:
        status = client.send(sid, body).status_code
        answers.append(status)
        return status == 201

    wait_until(sent, 60, f"{body!r} accepted")


def _bodies(stream: StreamReader) -> list[str]:
    """Every message body the stream showed, once it has shown everything sent."""
    shown = stream.seen + stream.drain(0.5)
    return [e.data["message"]["body"] for e in shown if e.event == "message_added"]


def test_a_primary_killed_while_messages_flow_loses_nothing_and_answers_no_500(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Twilio retries a webhook answered 503 (here: every 0.25 s more, 40 times); Parley
    answers 503 while a slot it needs has no primary, never 500, and once the replica is
    promoted every message reaches the open stream once, in order."""
    caplog.set_level(logging.INFO, logger="twilio_emulator.webhooks")
    with _parley_on_a_cluster(tmp_path, webhook_retries=40) as stack:
        alice, carol = stack.login("alice"), stack.login("carol")
        stream = StreamReader(carol, carol.stream_cursor())
        sid = alice.start_dm("carol")["sid"]
        bodies = [_body(f"message {n}") for n in range(8)]
        answers: list[int] = []
        _send(alice, sid, bodies[0], answers)
        stream.wait_for("message_added", lambda d: d["message"]["body"] == bodies[0], 20)
        slot = key_slot(user_channel("carol").encode())
        killer = threading.Thread(target=stack.cluster.kill_primary, args=(slot,))
        killer.start()
        wait_until(lambda: stack.cluster.killed, 30, "the primary killed")
        for body in bodies[1:]:  # during the failover, then after it
            _send(alice, sid, body, answers)
        killer.join(60)
        assert not killer.is_alive()
        for body in bodies[1:]:
            stream.wait_for("message_added", lambda d, b=body: d["message"]["body"] == b, 60)
        assert _bodies(stream) == bodies
        assert set(answers) <= {201, 503}, answers
        answered = (re.search(r": (\d{3}) \(retry", r.getMessage()) for r in caplog.records)
        statuses = [int(found[1]) for found in answered if found]
        assert statuses and set(statuses) <= {200, 503}, statuses
        stream.close()
