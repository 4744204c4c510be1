"""Parley down (every worker) while messages are sent, longer than Twilio retries their
webhooks: once Parley is back, the page that stayed open shows them, in order, once, by
itself."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import alice_watching_bob
from tests.support.servers import ParleyServer, RedisServer, Served, run_parley
from tests.support.waiting import free_port, port_open, wait_until
from twilio_emulator import EmulatorSettings, EmulatorState, create_emulator_app
from twilio_emulator.credentials import EMULATOR_ACCOUNT_SID, EMULATOR_SERVICE_SID

#: Long enough for the page's own back-off (it kept failing while Parley was down).
BACK_MS = 40_000
TOKEN = "catch-up-webhook-token"


class Twilio:
    """A standalone emulator: it outlives Parley, as Twilio does."""

    def __init__(self, parley_port: int) -> None:
        settings = EmulatorSettings(
            auth_token=TOKEN,
            post_webhook_url=f"http://127.0.0.1:{parley_port}/twilio/webhook",
        )
        app = create_emulator_app(settings)
        self.state: EmulatorState = app.extensions["twilio_emulator"]
        self.served = Served(app)

    def send(self, sid: str, author: str, body: str) -> None:
        """A message sent to Twilio by another client (an SDK, another backend): Twilio fires
        its webhook, retries it, and gives up while Parley is down."""
        answer = requests.post(
            f"{self.served.url}/v1/Services/{EMULATOR_SERVICE_SID}/Conversations/{sid}/Messages",
            data={"Author": author, "Body": body},
            headers={"X-Twilio-Webhook-Enabled": "true"},
            auth=(EMULATOR_ACCOUNT_SID, TOKEN),
            timeout=10,
        )
        assert answer.status_code == 201, answer.text

    def close(self) -> None:
        self.served.stop()
        self.state.close()


@pytest.fixture
def stack(tmp_path: Path, private_redis: RedisServer) -> Iterator[tuple[ParleyServer, Twilio]]:
    port = free_port()
    twilio = Twilio(port)
    try:
        with run_parley(
            tmp_path,
            PORT=str(port),
            REDIS_URL=private_redis.url,
            TWILIO_EMULATOR_URL=twilio.served.url,
            TWILIO_AUTH_TOKEN=TOKEN,
            WEB_CONCURRENCY="2",  # two workers catching up at once publish each message once
        ) as server:
            yield server, twilio
    finally:
        twilio.close()


def test_messages_sent_while_parley_was_down_reach_the_open_page(
    browser: Any, stack: tuple[ParleyServer, Twilio]
) -> None:
    server, twilio = stack
    with alice_watching_bob(browser, server) as (alice, _, sid, before):
        alice.page.evaluate("window.__sameDocument = true")

        server.stop()  # every worker, and the master
        assert not port_open(int(server.env["PORT"]))
        missed = [f"missed {i} {uuid.uuid4().hex[:6]}" for i in range(3)]
        for body in missed:
            twilio.send(sid, "bob", body)
        assert twilio.state.webhooks.wait_idle(30)  # each tried, retried, given up on
        server.start()

        expect(alice.message(missed[-1])).to_be_visible(timeout=BACK_MS)
        wait_until(lambda: alice.message_bodies()[-4:] == [before, *missed], 10, "in order")
        bodies = alice.message_bodies()
        assert [bodies.count(body) for body in missed] == [1, 1, 1]
        assert alice.page.evaluate("window.__sameDocument") is True  # no reload
        assert not alice.script_errors
