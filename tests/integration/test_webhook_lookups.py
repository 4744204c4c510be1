"""What the webhook answers about the conversation it names, and when Twilio or Redis fail.

Twilio retries a webhook that gets a 5xx (each retry an error in the customer's console) and
gives up on an answer after 5 s. So: a malformed ConversationSid is a 400 without asking
Twilio; a conversation Twilio answers 404 for is a 200 (nothing to deliver); only what could
succeed later is a 503, and a slow Twilio or Redis gets its 503 before Twilio stops waiting.

Parley here talks to a Twilio emulator and a Redis of its own, each behind a proxy that can
hold back their answers (slow) or drop connections (unreachable); the emulator can also be
told to answer an error status, as Twilio does when overloaded.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from werkzeug.http import HTTP_STATUS_CODES

from tests.support.clients import ApiClient, StreamReader, message_added_params
from tests.support.proxy import FaultyProxy
from tests.support.servers import ParleyServer, Served, run_parley, start_redis
from twilio_emulator import EmulatorSettings, create_emulator_app
from webapp.twilio_gateway import is_conversation_sid
from webapp.twilio_gateway.client import EmulatorHttpClient
from webapp.webhooks.translate import TRANSLATORS

TOKEN = "lookups-test-token"
METRICS_TOKEN = "lookups-metrics-token"
#: Twilio's own patience; the webhook must answer well within it, even on a loaded machine.
TWILIO_PATIENCE = 5.0


class TwilioFaults:
    """The emulator's WSGI app, noting each request's path, answering ``status`` (in
    Twilio's error shape) instead of the emulator while it is set."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.status: int | None = None
        self.paths: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.paths.append(environ.get("PATH_INFO", ""))
        status = self.status
        if status is None:
            return self.app(environ, start_response)
        body = json.dumps({"code": 20000 + status, "message": "failing", "status": status})
        start_response(
            f"{status} {HTTP_STATUS_CODES[status]}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body.encode()]


@dataclass
class Stack:
    parley: ParleyServer
    twilio: FaultyProxy
    redis: FaultyProxy
    faults: TwilioFaults
    emulator: Client  # straight to the emulator, never through the proxy
    service_sid: str

    def conversation(self, *identities: str) -> str:
        """A conversation made in Twilio directly: Parley has cached nothing about it."""
        conversations = self.emulator.conversations.v1.services(self.service_sid).conversations
        sid: str = conversations.create().sid
        for identity in identities:
            conversations(sid).participants.create(identity=identity)
        return sid

    def delete(self, sid: str) -> None:
        self.emulator.conversations.v1.services(self.service_sid).conversations(sid).delete()

    def post(self, params: dict[str, str]) -> tuple[requests.Response, float]:
        """A webhook signed as Twilio signs it, and how long its answer took."""
        url = self.parley.url + "/twilio/webhook"
        signature = RequestValidator(TOKEN).compute_signature(url, params)
        started = time.monotonic()
        answer = requests.post(url, data=params, headers={"X-Twilio-Signature": signature})
        return answer, time.monotonic() - started

    def outcomes(self) -> dict[str, float]:
        text = requests.get(
            self.parley.url + "/metrics",
            headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
            timeout=10,
        ).text
        found = re.findall(r'^parley_webhooks_total\{outcome="(\w+)"\} (\S+)$', text, re.M)
        return {outcome: float(count) for outcome, count in found}

    def heal(self) -> None:
        self.twilio.resume()
        self.redis.resume()
        self.faults.status = None


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = EmulatorSettings(auth_token=TOKEN, post_webhook_url=None)
    emulator_app = create_emulator_app(settings)
    faults = TwilioFaults(emulator_app)
    served = Served(faults)
    redis_server = start_redis()
    twilio = FaultyProxy(served.server.server_port)
    redis = FaultyProxy(redis_server.port)
    try:
        with run_parley(
            tmp_path_factory.mktemp("lookups"),
            TWILIO_AUTH_TOKEN=TOKEN,
            TWILIO_EMULATOR_URL=f"http://127.0.0.1:{twilio.port}",
            REDIS_URL=f"redis://127.0.0.1:{redis.port}/0",
            METRICS_TOKEN=METRICS_TOKEN,
        ) as parley:
            http = EmulatorHttpClient(served.url, timeout=10)
            client = Client(settings.account_sid, TOKEN, http_client=http)
            yield Stack(parley, twilio, redis, faults, client, settings.service_sid)
    finally:
        twilio.close()
        redis.close()
        redis_server.stop()
        served.stop()
        emulator_app.extensions["twilio_emulator"].close()


@pytest.fixture
def healthy(stack: Stack) -> Iterator[Stack]:
    """The stack, healed again after the test whatever it broke."""
    yield stack
    stack.heal()


def login(stack: Stack, username: str) -> ApiClient:
    return ApiClient(stack.parley.url).login(username, stack.parley.password)


def event_params(event_type: str, sid: str) -> dict[str, str]:
    """Just enough of Twilio's parameters for each event type Parley translates."""
    return {
        **message_added_params(sid, "about " + sid),
        "EventType": event_type,
        "ParticipantSid": "MB" + uuid.uuid4().hex,
        "Identity": "bob",
        "LastReadMessageIndex": "3",
        "Status": "delivered",  # onDeliveryUpdated
    }


# Which conversation -------------------------------------------------------------------------

not_a_sid = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    st.text("0123456789abcdefABCDEF", max_size=40).map(lambda s: "CH" + s),
    st.sampled_from(["CH" + "A" * 32, "CH" + "a" * 32 + "/..", "IS" + "a" * 32, "CH%2F"]),
).filter(lambda s: not is_conversation_sid(s))


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(sid=not_a_sid, event_type=st.sampled_from(sorted(TRANSLATORS)))
def test_a_malformed_conversation_sid_is_a_400_without_asking_twilio(
    healthy: Stack, sid: str, event_type: str
) -> None:
    asked = len(healthy.faults.paths)
    answer, _ = healthy.post(event_params(event_type, sid))
    assert (answer.status_code, answer.text) == (400, "malformed parameters\n")
    assert not [path for path in healthy.faults.paths[asked:] if "/Conversations/" in path]


MESSAGE_EVENTS = ("onMessageAdded", "onMessageUpdated", "onMessageRemoved")
PARTICIPANT_EVENTS = ("onParticipantAdded", "onParticipantRemoved")


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    bad=st.one_of(
        st.tuples(st.just("MessageSid"), st.sampled_from(MESSAGE_EVENTS)),
        st.tuples(st.just("ParticipantSid"), st.sampled_from(MESSAGE_EVENTS + PARTICIPANT_EVENTS)),
    ),
    value=st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40),
)
def test_other_malformed_sids_are_a_400_without_asking_twilio(
    healthy: Stack, bad: tuple[str, str], value: str
) -> None:
    """The page acts on the message and participant SIDs it is sent (edit, delete, remove)."""
    name, event_type = bad
    assume(not re.fullmatch("(IM|MB)[0-9a-f]{32}", value))
    asked = len(healthy.faults.paths)
    params = {**event_params(event_type, "CH" + uuid.uuid4().hex), name: value}
    answer, _ = healthy.post(params)
    assert (answer.status_code, answer.text) == (400, "malformed parameters\n")
    assert not [path for path in healthy.faults.paths[asked:] if "/Conversations/" in path]


def test_attributes_nested_too_deep_to_read_are_ignored_like_other_bad_json(
    healthy: Stack,
) -> None:
    sid = healthy.conversation("alice", "bob")
    for attributes in ("[" * 50_000, '{"a":' * 20_000):
        answer, _ = healthy.post({**message_added_params(sid, "deep"), "Attributes": attributes})
        assert (answer.status_code, answer.text) == (200, "ok\n")


@pytest.mark.parametrize("event_type", sorted(TRANSLATORS))
def test_a_conversation_twilio_does_not_know_is_answered_200(
    healthy: Stack, event_type: str
) -> None:
    before = healthy.outcomes()
    answer, _ = healthy.post(event_params(event_type, "CH" + uuid.uuid4().hex))
    assert answer.status_code == 200, answer.text
    if answer.text == "nothing to deliver\n":
        after = healthy.outcomes()
        assert after["unknown_conversation"] == before["unknown_conversation"] + 1
    else:  # removals tell whoever Parley knew of; a horizon with no reader publishes nothing
        assert event_type in ("onConversationRemoved", "onParticipantRemoved")
        assert answer.text == "ok\n"


def test_a_deleted_conversation_is_nothing_to_deliver_and_says_so(healthy: Stack) -> None:
    sid = healthy.conversation("alice", "bob")
    healthy.delete(sid)
    answer, _ = healthy.post(message_added_params(sid, "too late"))
    assert (answer.status_code, answer.text) == (200, "nothing to deliver\n")
    line = f"POST /twilio/webhook 200 .* unknown_conversation onMessageAdded {sid}"
    assert re.search(line, healthy.parley.log())


# What could succeed later ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 503])
def test_twilio_overloaded_or_failing_is_a_503_to_retry(healthy: Stack, status: int) -> None:
    sid = healthy.conversation("alice", "bob")
    healthy.faults.status = status
    answer, _ = healthy.post(message_added_params(sid, "Twilio says " + str(status)))
    assert (answer.status_code, answer.text) == (503, "Twilio lookup failed; retry\n")


def test_twilio_unreachable_is_a_503_to_retry(healthy: Stack) -> None:
    sid = healthy.conversation("alice", "bob")
    healthy.twilio.cut()
    answer, _ = healthy.post(message_added_params(sid, "nobody answers"))
    assert (answer.status_code, answer.text) == (503, "Twilio lookup failed; retry\n")


# Slowness: answered before Twilio gives up, and Twilio's retry delivered once ---------------------


def _answered_in_time_then_delivered_once(stack: Stack, sid: str, stream: StreamReader) -> None:
    """The stalled service's webhook gets a 503 in time; Twilio's retry, once the slowness
    is over, reaches the stream, and exactly once."""
    before = stack.outcomes()
    params = message_added_params(sid, "slow " + uuid.uuid4().hex)
    answer, took = stack.post(params)
    assert (answer.status_code, answer.text) == (503, "too slow; retry\n")
    assert took < TWILIO_PATIENCE, f"answered after {took:.1f} s"
    assert stack.outcomes()["timed_out"] == before["timed_out"] + 1
    line = f"POST /twilio/webhook 503 .* timed_out onMessageAdded {sid}"
    assert re.search(line, stack.parley.log())

    stack.heal()
    for retry in ("1", "2"):
        answer, _ = stack.post({**params, "RetryCount": retry})
        assert answer.status_code == 200, answer.text
    stream.wait_for("message_added", lambda d: d["message"]["body"] == params["Body"], 15)
    marker = message_added_params(sid, "after " + uuid.uuid4().hex)
    assert stack.post(marker)[0].status_code == 200
    following = stream.wait_for("message_added", timeout=15)
    assert following.data["message"]["body"] == marker["Body"]


def test_a_slow_twilio_gets_its_503_in_time_and_the_retry_is_delivered_once(
    healthy: Stack,
) -> None:
    bob = login(healthy, "bob")
    sid = healthy.conversation("alice", "bob")  # not cached: the webhook must ask Twilio
    stream = StreamReader(bob, bob.stream_cursor())
    try:
        assert stream.next_event().event == "resumed"
        healthy.twilio.stall()
        _answered_in_time_then_delivered_once(healthy, sid, stream)
    finally:
        stream.close()


def test_a_slow_redis_gets_its_503_in_time_and_the_retry_is_delivered_once(
    healthy: Stack,
) -> None:
    bob = login(healthy, "bob")
    sid = healthy.conversation("alice", "bob")
    stream = StreamReader(bob, bob.stream_cursor())
    try:
        assert stream.next_event().event == "resumed"
        warm = message_added_params(sid, "warm " + uuid.uuid4().hex)  # members now cached
        assert healthy.post(warm)[0].status_code == 200
        stream.wait_for("message_added", lambda d: d["message"]["body"] == warm["Body"])
        healthy.redis.stall()
        _answered_in_time_then_delivered_once(healthy, sid, stream)
    finally:
        stream.close()
