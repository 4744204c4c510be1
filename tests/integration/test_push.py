"""Web Push over the real path: alice's message → webhook → the push dispatcher (off the
webhook's path) → a Web Push endpoint stand-in that checks VAPID and decrypts the payload
with the subscription's private key, as a browser's push service and browser would."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import requests

from tests.support.clients import ApiClient, StreamReader
from tests.support.push_service import PushService
from tests.support.servers import ParleyServer, flask_cli, run_parley, start_redis
from tests.support.waiting import wait_until
from webapp.push.keys import generate_keys
from webapp.push.sender import topic_for

PASSWORD = "push-test-password"


class PushStack(NamedTuple):
    parley: ParleyServer
    service: PushService


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PushStack]:
    """A Parley with VAPID keys and a Redis of its own, and the push service stand-in."""
    public, private = generate_keys()
    service = PushService(public)
    redis = start_redis()
    tmp: Path = tmp_path_factory.mktemp("push")
    try:
        with run_parley(
            tmp,
            REDIS_URL=redis.url,
            PARLEY_VAPID_PUBLIC_KEY=public,
            PARLEY_VAPID_PRIVATE_KEY=private,
            PARLEY_VAPID_SUBJECT="mailto:ops@example.com",
        ) as parley:
            yield PushStack(parley, service)
    finally:
        redis.stop()
        service.stop()


@pytest.fixture
def person(stack: PushStack) -> Callable[[], ApiClient]:
    """A new user of the test's own, logged in: nobody else's stream or push gets in the way."""

    def _make() -> ApiClient:
        name = f"u{uuid.uuid4().hex[:10]}"
        flask_cli(stack.parley.env, "users", "create", name, "--password", PASSWORD)
        return ApiClient(stack.parley.url).login(name, PASSWORD)

    return _make


@pytest.fixture(scope="module")
def checker(stack: PushStack) -> ApiClient:
    """One user for the tests that only read answers."""
    flask_cli(stack.parley.env, "users", "create", "checker", "--password", PASSWORD)
    return ApiClient(stack.parley.url).login("checker", PASSWORD)


def _subscribe(client: ApiClient, service: PushService, **extra: object) -> str:
    token = uuid.uuid4().hex
    answer = client.post("/api/push/subscriptions", {**service.subscribe(token), **extra})
    assert answer.status_code == 201, answer.text
    return token


def test_a_message_for_someone_with_no_open_page_is_pushed_encrypted_and_signed(
    stack: PushStack, person: Callable[[], ApiClient]
) -> None:
    alice, bob = person(), person()
    token = _subscribe(bob, stack.service)
    sid = alice.start_dm(bob.username)["sid"]
    assert alice.send(sid, "Lunch at noon?").status_code == 201

    delivery = wait_until(lambda: stack.service.deliveries(token), 10, "the push")[0]
    assert delivery.payload == {
        "title": alice.username,
        "body": "Lunch at noon?",
        "conversation_sid": sid,
        "url": f"/c/{sid}",
    }
    assert delivery.headers["Topic"] == topic_for(sid)
    assert int(delivery.headers["Ttl"]) > 0
    assert stack.service.refused == []


def test_private_previews_say_new_message(
    stack: PushStack, person: Callable[[], ApiClient]
) -> None:
    alice, bob = person(), person()
    token = _subscribe(bob, stack.service, previews=False)
    sid = alice.start_dm(bob.username)["sid"]
    alice.send(sid, "the door code is 4711")

    delivery = wait_until(lambda: stack.service.deliveries(token), 10, "the push")[0]
    assert delivery.payload["body"] == "New message"
    assert "4711" not in str(delivery.payload)


def test_a_burst_is_batched_into_few_pushes_of_one_topic(
    stack: PushStack, person: Callable[[], ApiClient]
) -> None:
    alice, bob = person(), person()
    token = _subscribe(bob, stack.service)
    sid = alice.start_dm(bob.username)["sid"]
    for n in range(6):
        assert alice.send(sid, f"burst {n}").status_code == 201

    def newest_arrived() -> bool:
        return any(d.payload["body"].startswith("burst 5") for d in stack.service.deliveries(token))

    wait_until(newest_arrived, 15, "a push with the newest message")
    pushes = stack.service.deliveries(token)
    assert len(pushes) <= 2, [p.payload for p in pushes]  # the first, then the rest folded
    assert {p.headers["Topic"] for p in pushes} == {topic_for(sid)}
    if len(pushes) == 2:
        assert pushes[1].payload["body"].startswith("burst 5 (+")


def test_nobody_with_an_open_stream_is_pushed(
    stack: PushStack, person: Callable[[], ApiClient]
) -> None:
    alice, bob, carol = person(), person(), person()
    bob_token = _subscribe(bob, stack.service)
    carol_token = _subscribe(carol, stack.service)
    group = alice.post(
        "/api/conversations",
        {"participants": [bob.username, carol.username], "friendly_name": "Online or not"},
    )
    sid = group.json()["conversation"]["sid"]
    stream = StreamReader(bob, bob.stream_cursor())
    try:
        alice.send(sid, "bob is here, carol is not")
        stream.wait_for("message_added")
        # carol's push comes from the same round as bob's would: once it is here, bob's
        # would be too.
        wait_until(lambda: stack.service.deliveries(carol_token), 10, "carol's push")
        assert stack.service.deliveries(bob_token) == []
    finally:
        stream.close()


def test_a_subscription_its_push_service_forgot_is_removed(
    stack: PushStack, person: Callable[[], ApiClient]
) -> None:
    alice, bob = person(), person()
    token = _subscribe(bob, stack.service)
    endpoint = f"{stack.service.url}/push/{token}"
    stack.service.answers[token] = 410
    assert bob.get("/api/push", params={"endpoint": endpoint}).json()["subscribed"] is True
    sid = alice.start_dm(bob.username)["sid"]
    alice.send(sid, "anyone there?")

    def removed() -> bool:
        return bob.get("/api/push", params={"endpoint": endpoint}).json()["subscribed"] is False

    wait_until(removed, 10, "the subscription to go")


def test_logout_removes_the_users_subscriptions(
    stack: PushStack, person: Callable[[], ApiClient]
) -> None:
    bob = person()
    token = _subscribe(bob, stack.service)
    endpoint = f"{stack.service.url}/push/{token}"
    logout = bob.session.post(
        f"{bob.base_url}/logout", data={"csrf_token": bob.csrf_token}, timeout=10
    )
    assert logout.status_code == 200
    again = ApiClient(stack.parley.url).login(bob.username, PASSWORD)
    assert again.get("/api/push", params={"endpoint": endpoint}).json()["subscribed"] is False


def test_unsubscribing_removes_only_ones_own(
    stack: PushStack, person: Callable[[], ApiClient]
) -> None:
    bob, mallory = person(), person()
    token = _subscribe(bob, stack.service)
    endpoint = f"{stack.service.url}/push/{token}"
    delete = mallory.session.delete(
        f"{mallory.base_url}/api/push/subscriptions",
        json={"endpoint": endpoint},
        headers={"X-CSRFToken": mallory.csrf_token},
        timeout=10,
    )
    assert delete.status_code == 204
    assert bob.get("/api/push", params={"endpoint": endpoint}).json()["subscribed"] is True
    own = bob.session.delete(
        f"{bob.base_url}/api/push/subscriptions",
        json={"endpoint": endpoint},
        headers={"X-CSRFToken": bob.csrf_token},
        timeout=10,
    )
    assert own.status_code == 204
    assert bob.get("/api/push", params={"endpoint": endpoint}).json()["subscribed"] is False


@pytest.mark.parametrize(
    "change",
    [
        {"endpoint": None},
        {"endpoint": 5},
        {"endpoint": "ftp://push.example.com/x"},
        {"endpoint": "https://10.0.0.1/push/x"},
        {"endpoint": "https://169.254.169.254/latest"},
        {"endpoint": "https://push.example.com/" + "x" * 2000},
        {"keys": {"p256dh": "AAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
        {"keys": {"p256dh": None}},
        {"keys": "no"},
        {"previews": "yes"},
        {"extra": 1},
    ],
)
def test_bad_subscriptions_are_refused_with_json(
    stack: PushStack, checker: ApiClient, change: dict[str, object]
) -> None:
    bob = checker
    body = {**stack.service.subscribe(uuid.uuid4().hex), **change}
    answer = bob.post("/api/push/subscriptions", body)
    assert answer.status_code == 400, answer.text
    assert set(answer.json()["error"]) == {"code", "message"}


def test_the_service_worker_is_served_for_the_whole_site(stack: PushStack) -> None:
    answer = requests.get(stack.parley.url + "/sw.js", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/javascript")
    assert answer.headers["Service-Worker-Allowed"] == "/"
    assert "addEventListener('push'" in answer.text
