"""Pre-event webhooks (`PreWebhookUrl` + filters like onMessageAdd), as Twilio's "Using
Pre-Action Webhooks to Modify or Reject Changes" describes them: a non-2xx answer rejects the
change, a 2xx JSON body may modify it, no answer in time lets it through unmodified."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.emulator.conftest import (
    EMULATOR_ACCOUNT_SID,
    EMULATOR_AUTH_TOKEN,
    RunningEmulator,
    WebhookReceiver,
    start_emulator,
)
from tests.emulator.test_contract import twilio_error
from tests.emulator.test_webhooks import ON, services, signature_valid
from twilio_emulator import EmulatorSettings

PRE_FILTERS = ["onMessageAdd", "onMessageUpdate", "onConversationAdd", "onParticipantAdd"]


@pytest.fixture
def screened(emulator: RunningEmulator, second_receiver: WebhookReceiver) -> Any:
    """The service API with `second_receiver` as the pre-event webhook for PRE_FILTERS and
    `receiver` (the fixture's default) still the post-event one."""
    api = services(emulator)
    post_filters = ["onMessageAdded", "onConversationAdded", "onParticipantAdded"]
    api.configuration.webhooks().update(
        pre_webhook_url=second_receiver.url, filters=PRE_FILTERS + post_filters
    )
    return api


def test_pre_event_carries_the_change_about_to_happen(
    emulator: RunningEmulator,
    receiver: WebhookReceiver,
    second_receiver: WebhookReceiver,
    screened: Any,
) -> None:
    conv = screened.conversations.create()
    alice = screened.conversations(conv.sid).participants.create(identity="alice")
    msg = screened.conversations(conv.sid).messages.create(author="alice", body="hello", **ON)
    (pre,) = second_receiver.received
    assert pre.params == {
        "EventType": "onMessageAdd",
        "AccountSid": EMULATOR_ACCOUNT_SID,
        "ChatServiceSid": msg.chat_service_sid,
        "ConversationSid": conv.sid,
        "Author": "alice",
        "Body": "hello",
        "Attributes": "{}",
        "ParticipantSid": alice.sid,
        "Source": "API",
        "RetryCount": "0",
        "WebhookSid": pre.params["WebhookSid"],
        "WebhookType": "webhook",
    }
    assert signature_valid(pre)
    (post,) = receiver.wait_for(1)
    assert post.params["EventType"] == "onMessageAdded" and post.params["MessageSid"] == msg.sid


def test_a_non_2xx_answer_rejects_the_change(
    emulator: RunningEmulator,
    receiver: WebhookReceiver,
    second_receiver: WebhookReceiver,
    screened: Any,
) -> None:
    conv = screened.conversations.create()
    second_receiver.statuses.extend([403, 500])
    error = twilio_error(screened.conversations(conv.sid).messages.create, body="spam", **ON)
    assert (error.status, error.code) == (403, 20403) and "onMessageAdd" in error.msg
    error = twilio_error(
        screened.conversations(conv.sid).participants.create, identity="mallory", **ON
    )
    assert error.status == 403
    emulator.wait_idle()
    assert screened.conversations(conv.sid).messages.list() == []
    assert screened.conversations(conv.sid).participants.list() == []
    assert receiver.received == []


def test_a_json_answer_modifies_the_message_and_the_post_event_shows_it(
    emulator: RunningEmulator,
    receiver: WebhookReceiver,
    second_receiver: WebhookReceiver,
    screened: Any,
) -> None:
    conv = screened.conversations.create()
    screened.conversations(conv.sid).participants.create(identity="bot")
    changes = {"body": "[redacted]", "author": "bot", "attributes": '{"k": 1}', "index": 99}
    second_receiver.replies.append((200, json.dumps(changes)))
    msg = screened.conversations(conv.sid).messages.create(author="alice", body="secret", **ON)
    assert (msg.body, msg.author, msg.attributes, msg.index) == ("[redacted]", "bot", '{"k": 1}', 0)
    assert msg.participant_sid is not None  # re-linked to the new author
    (post,) = receiver.wait_for(1)
    assert post.params["Body"] == "[redacted]" and post.params["Author"] == "bot"

    second_receiver.replies.append((200, json.dumps({"body": "edited by hook"})))
    edited = screened.conversations(conv.sid).messages(msg.sid).update(body="mine", **ON)
    assert edited.body == "edited by hook" and edited.author == "bot"
    assert second_receiver.received[-1].params["EventType"] == "onMessageUpdate"
    assert second_receiver.received[-1].params["Body"] == "mine"


def test_a_json_answer_can_rename_a_new_conversation(
    second_receiver: WebhookReceiver, screened: Any
) -> None:
    second_receiver.replies.append((200, json.dumps({"friendly_name": "Renamed"})))
    conv = screened.conversations.create(friendly_name="Original", unique_name="u", **ON)
    assert (conv.friendly_name, conv.unique_name) == ("Renamed", "u")
    (pre,) = second_receiver.received
    assert pre.params["EventType"] == "onConversationAdd" and "ConversationSid" not in pre.params


def test_modified_values_are_validated_like_the_request(
    second_receiver: WebhookReceiver, screened: Any
) -> None:
    conv = screened.conversations.create()
    second_receiver.replies.append((200, json.dumps({"body": "x" * 40_000})))
    error = twilio_error(screened.conversations(conv.sid).messages.create, body="ok", **ON)
    assert (error.status, error.code) == (400, 50504)


def test_empty_or_non_json_answers_change_nothing(
    second_receiver: WebhookReceiver, screened: Any
) -> None:
    conv = screened.conversations.create()
    second_receiver.replies.extend([(200, "not json"), (204, "")])
    first = screened.conversations(conv.sid).messages.create(body="one", **ON)
    second = screened.conversations(conv.sid).messages.create(body="two", **ON)
    assert (first.body, second.body) == ("one", "two")


def test_rest_changes_without_the_header_are_not_screened(
    second_receiver: WebhookReceiver, screened: Any
) -> None:
    second_receiver.statuses.append(403)
    conv = screened.conversations.create()
    assert screened.conversations(conv.sid).messages.create(body="unscreened").index == 0
    assert second_receiver.received == []


def test_inbound_sms_is_screened_with_source_sms(
    emulator: RunningEmulator, second_receiver: WebhookReceiver, screened: Any
) -> None:
    conv = screened.conversations.create(unique_name="support")
    screened.conversations(conv.sid).participants.create(
        messaging_binding_address="+15551234567", messaging_binding_proxy_address="+15005550006"
    )
    second_receiver.statuses.append(400)
    response = requests.post(
        f"{emulator.url}/_dev/sms",
        data={"From": "+15551234567", "To": "support", "Body": "blocked"},
        auth=(EMULATOR_ACCOUNT_SID, EMULATOR_AUTH_TOKEN),
        timeout=10,
    )
    assert response.status_code == 403 and response.json()["code"] == 20403
    (pre,) = second_receiver.received
    assert (pre.params["Source"], pre.params["Author"]) == ("SMS", "+15551234567")


@pytest.fixture
def slow_screen(second_receiver: WebhookReceiver) -> Iterator[RunningEmulator]:
    """An emulator whose pre-event webhook never answers within its 0.3 s timeout."""
    second_receiver.gate = threading.Event()
    running = start_emulator(EmulatorSettings(webhook_timeout=0.3))
    yield running
    second_receiver.gate.set()
    running.state.close()
    running.served.stop()


def test_no_answer_in_time_lets_the_change_through_unmodified(
    slow_screen: RunningEmulator, second_receiver: WebhookReceiver
) -> None:
    api = services(slow_screen)
    api.configuration.webhooks().update(
        pre_webhook_url=second_receiver.url, filters=["onMessageAdd"]
    )
    second_receiver.replies.append((403, ""))  # would reject, but arrives too late
    conv = api.conversations.create()
    msg = api.conversations(conv.sid).messages.create(body="late hook", **ON)
    assert msg.body == "late hook" and len(second_receiver.received) == 1
