"""The dispatcher in one process: the ``should_push`` seam (mute plugs in there) and the
per-user rate limit, against the push service stand-in, with Parley's app in-process."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from flask import Flask
from flask_migrate import upgrade

from tests.support.push_service import PushService
from tests.support.waiting import wait_until
from webapp import create_app
from webapp.config import Config
from webapp.events import types
from webapp.events.types import Event
from webapp.extensions import db
from webapp.models import PushSubscription, User
from webapp.push import dispatcher
from webapp.push.keys import generate_keys
from webapp.services import get_services

MUTED = "CH" + "0" * 31 + "1"
OPEN = "CH" + "0" * 31 + "2"


class Stack(NamedTuple):
    app: Flask
    service: PushService


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    public, private = generate_keys()
    service = PushService(public)
    config = Config.from_env(
        {
            "SECRET_KEY": "k",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}",
            "PARLEY_VAPID_PUBLIC_KEY": public,
            "PARLEY_VAPID_PRIVATE_KEY": private,
            "PARLEY_VAPID_SUBJECT": "mailto:ops@example.com",
        },
        require_service_sid=False,
    )
    app = create_app(config)
    with app.app_context():
        upgrade()
        for name in ("alice", "bob"):
            user = User.password_account(name)
            user.set_password("irrelevant-here")
            db.session.add(user)
        db.session.commit()
    stack = Stack(app, service)
    _bobs_browser(stack, "bob")
    try:
        yield stack
    finally:
        get_services(app).broker.close()
        service.stop()


def _message(conversation_sid: str, body: str) -> Event:
    return Event(
        types.MESSAGE_ADDED,
        {"conversation_sid": conversation_sid, "message": {"author": "alice", "body": body}},
    )


def test_a_muted_conversation_is_never_pushed(stack: Stack) -> None:
    services = get_services(stack.app)
    with stack.app.app_context():
        services.mutes.mute("bob", MUTED, None)  # as bob's "Mute: until I turn it back on"
    services.push.offer(_message(MUTED, "muted news"), ["alice", "bob"])
    services.push.offer(_message(OPEN, "open news"), ["alice", "bob"])
    (delivery,) = wait_until(lambda: stack.service.deliveries("bob"), 10, "the open push")
    assert delivery.payload["conversation_sid"] == OPEN
    assert stack.service.refused == []


def test_should_push_is_asked_for_every_recipient_but_the_author(stack: Stack) -> None:
    push = get_services(stack.app).push
    asked: list[tuple[str, str]] = []

    def should_push(identity: str, conversation_sid: str) -> bool:
        asked.append((identity, conversation_sid))
        return conversation_sid != MUTED

    push.should_push = should_push
    push.offer(_message(MUTED, "muted news"), ["alice", "bob"])
    push.offer(_message(OPEN, "open news"), ["alice", "bob"])
    (delivery,) = wait_until(lambda: stack.service.deliveries("bob"), 10, "the open push")
    assert delivery.payload["conversation_sid"] == OPEN
    assert {who for who, _ in asked} == {"bob"}  # alice wrote them: never asked for her
    assert stack.service.refused == []


def test_a_users_pushes_are_rate_limited_and_folded(stack: Stack) -> None:
    push = get_services(stack.app).push
    push.offer(_message(OPEN, "first"), ["alice", "bob"])
    wait_until(lambda: stack.service.deliveries("bob"), 10, "the first push")
    for n in range(3):
        push.offer(_message(OPEN, f"later {n}"), ["alice", "bob"])
    wait_until(lambda: len(stack.service.deliveries("bob")) == 2, 10, "the folded push")
    first, folded = stack.service.deliveries("bob")
    assert first.payload["body"] == "first"
    assert folded.payload["body"] == "later 2 (+2 more)"
    assert push.limit.interval > 0


def _bobs_browser(stack: Stack, token: str) -> None:
    """bob subscribes a browser (its push service endpoint ends in ``token``)."""
    sub = stack.service.subscribe(token)
    with stack.app.app_context():
        bob = User.by_identity("bob")
        assert bob is not None
        db.session.add(
            PushSubscription(
                user_id=bob.id,
                endpoint=sub["endpoint"],
                p256dh=sub["keys"]["p256dh"],
                auth=sub["keys"]["auth"],
            )
        )
        db.session.commit()


@pytest.fixture
def quick_retries(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries 0.2 s apart, and a per-user rate limit that does not space them further (a
    retry is a push round like any other: with the real 3 s, four tries take about 10 s)."""
    monkeypatch.setattr(dispatcher, "RETRY_DELAYS", (0.2, 0.2, 0.2))
    get_services(stack.app).push.limit.interval = 0.05


@pytest.mark.usefixtures("quick_retries")
def test_a_push_the_service_could_not_take_is_tried_again_only_where_it_failed(
    stack: Stack,
) -> None:
    _bobs_browser(stack, "bob-phone")
    stack.service.answers["bob-phone"] = [503, 429]  # busy twice, then it takes it
    get_services(stack.app).push.offer(_message(OPEN, "news"), ["alice", "bob"])
    (phone,) = wait_until(lambda: stack.service.deliveries("bob-phone"), 10, "the retried push")
    assert phone.payload["body"] == "news"
    assert len(stack.service.refused) == 2
    # The browser that took it the first time is not told again (it would alert again).
    assert [d.payload["body"] for d in stack.service.deliveries("bob")] == ["news"]


@pytest.mark.usefixtures("quick_retries")
def test_a_push_waits_as_long_as_retry_after_asks(stack: Stack) -> None:
    stack.service.answers["bob"] = [429]
    stack.service.retry_after = "2"
    started = time.monotonic()
    get_services(stack.app).push.offer(_message(OPEN, "later, please"), ["alice", "bob"])
    wait_until(lambda: stack.service.deliveries("bob"), 10, "the push after Retry-After")
    assert time.monotonic() - started >= 2.0  # not the 0.2 s of the retry delay


@pytest.mark.usefixtures("quick_retries")
def test_a_push_the_service_keeps_refusing_is_dropped_after_its_last_try(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    stack.service.answers["bob"] = 500
    with caplog.at_level(logging.WARNING, logger="webapp.push.dispatcher"):
        get_services(stack.app).push.offer(_message(OPEN, "never"), ["alice", "bob"])
        wait_until(lambda: "dropped after 4 tries" in caplog.text, 20, "the push dropped")
    assert len(stack.service.refused) == 1 + len(dispatcher.RETRY_DELAYS)
