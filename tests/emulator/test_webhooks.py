"""Post-event webhooks: when they fire, what they carry, how they are signed, delivered in
order, retried, and survived. Every wait is on a condition with a deadline."""

from __future__ import annotations

import threading
from typing import Any

import requests
from twilio.request_validator import RequestValidator

from tests.emulator.conftest import (
    EMULATOR_ACCOUNT_SID,
    EMULATOR_AUTH_TOKEN,
    EMULATOR_SERVICE_SID,
    WAIT,
    ReceivedWebhook,
    RunningEmulator,
    WebhookReceiver,
    start_emulator,
)
from twilio_emulator import EmulatorSettings

ON = {"x_twilio_webhook_enabled": "true"}
PHONE, TWILIO_NUMBER = "+15551234567", "+15005550006"


def signature_valid(hit: ReceivedWebhook, token: str = EMULATOR_AUTH_TOKEN) -> bool:
    params = hit.params if hit.method == "POST" else {}
    validator = RequestValidator(token)
    return bool(validator.validate(hit.url, params, hit.headers["X-Twilio-Signature"]))


def services(emulator: RunningEmulator) -> Any:
    return emulator.client.conversations.v1.services(EMULATOR_SERVICE_SID)


def test_message_added_carries_twilio_parameters_and_a_valid_signature(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    api = services(emulator)
    conv = api.conversations.create(unique_name="room")
    alice = api.conversations(conv.sid).participants.create(identity="alice")
    msg = api.conversations(conv.sid).messages.create(
        author="alice", body="hello", attributes='{"k": 1}', **ON
    )
    (hit,) = receiver.wait_for(1)
    assert hit.method == "POST" and hit.url == receiver.url
    assert hit.params == {
        "EventType": "onMessageAdded",
        "AccountSid": EMULATOR_ACCOUNT_SID,
        "ChatServiceSid": EMULATOR_SERVICE_SID,
        "ConversationSid": conv.sid,
        "MessageSid": msg.sid,
        "Index": "0",
        "Author": "alice",
        "Body": "hello",
        "Attributes": '{"k": 1}',
        "ParticipantSid": alice.sid,
        "DateCreated": hit.params["DateCreated"],
        "Source": "API",
        "RetryCount": "0",
        "WebhookSid": hit.params["WebhookSid"],
        "WebhookType": "webhook",
    }
    assert hit.params["WebhookSid"].startswith("WH")
    assert hit.params["DateCreated"].endswith("Z")
    assert signature_valid(hit)
    assert hit.headers["User-Agent"].startswith("TwilioProxy/")
    assert hit.headers["I-Twilio-Idempotency-Token"]


def test_rest_changes_without_the_header_fire_nothing(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    api = services(emulator)
    conv = api.conversations.create()
    api.conversations(conv.sid).participants.create(identity="alice")
    api.conversations(conv.sid).messages.create(body="quiet")
    api.conversations(conv.sid).messages.create(body="loud", **ON)
    emulator.wait_idle()
    assert [(h.params["EventType"], h.params["Body"]) for h in receiver.received] == [
        ("onMessageAdded", "loud")
    ]


def test_events_arrive_in_the_order_they_happened(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    api = services(emulator)
    conv = api.conversations.create(friendly_name="Ordered", **ON)
    part = api.conversations(conv.sid).participants.create(identity="alice", **ON)
    sent = [api.conversations(conv.sid).messages.create(body=str(i), **ON) for i in range(20)]
    api.conversations(conv.sid).messages(sent[0].sid).update(body="edited", **ON)
    api.conversations(conv.sid).participants(part.sid).update(last_read_message_index=19, **ON)
    api.conversations(conv.sid).update(friendly_name="Renamed", **ON)
    hits = receiver.wait_for(25)
    assert [h.params["EventType"] for h in hits] == [
        "onConversationAdded",
        "onParticipantAdded",
        *["onMessageAdded"] * 20,
        "onMessageUpdated",
        "onParticipantUpdated",
        "onConversationUpdated",
    ]
    assert [h.params["Index"] for h in hits[2:22]] == [str(i) for i in range(20)]
    assert hits[0].params["FriendlyName"] == "Ordered" and hits[0].params["State"] == "active"
    assert hits[1].params["Identity"] == "alice"
    assert "DateUpdated" in hits[22].params and hits[22].params["Body"] == "edited"
    assert hits[23].params["LastReadMessageIndex"] == "19"
    assert hits[24].params["FriendlyName"] == "Renamed"


def test_library_delete_sends_no_header_so_no_webhook_like_twilio(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    """twilio 9.13.0 drops X-Twilio-Webhook-Enabled on deletes; Twilio then fires nothing.
    The workaround, `client.request` with the header, does fire onMessageRemoved."""
    api = services(emulator)
    conv = api.conversations.create()
    first = api.conversations(conv.sid).messages.create(body="one")
    second = api.conversations(conv.sid).messages.create(body="two")
    assert api.conversations(conv.sid).messages(first.sid).delete(**ON) is True
    assert "X-Twilio-Webhook-Enabled" not in emulator.http.exchanges[-1].headers
    response = emulator.client.request(
        "DELETE", second.url, headers={"X-Twilio-Webhook-Enabled": "true"}
    )
    assert response.status_code == 204
    (hit,) = receiver.wait_for(1)
    emulator.wait_idle()
    assert len(receiver.received) == 1
    assert hit.params["EventType"] == "onMessageRemoved"
    assert hit.params["MessageSid"] == second.sid and "DateRemoved" in hit.params


def test_removals_of_participants_and_conversations(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    api = services(emulator)
    conv = api.conversations.create()
    part = api.conversations(conv.sid).participants.create(
        messaging_binding_address=PHONE, messaging_binding_proxy_address=TWILIO_NUMBER
    )
    on = {"X-Twilio-Webhook-Enabled": "true"}
    emulator.client.request("DELETE", part.url, headers=on)
    emulator.client.request("DELETE", conv.url, headers=on)
    first, second = receiver.wait_for(2)
    assert first.params["EventType"] == "onParticipantRemoved"
    assert first.params["MessagingBinding.Address"] == PHONE
    assert first.params["MessagingBinding.ProxyAddress"] == TWILIO_NUMBER
    assert "Identity" not in first.params
    assert second.params["EventType"] == "onConversationRemoved"


def test_only_filtered_events_are_sent(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    api = services(emulator)
    api.configuration.webhooks().update(filters=["onMessageAdded"])
    conv = api.conversations.create(**ON)
    api.conversations(conv.sid).participants.create(identity="alice", **ON)
    api.conversations(conv.sid).messages.create(body="only me", **ON)
    emulator.wait_idle()
    assert receiver.events() == ["onMessageAdded"]


def test_get_method_sends_parameters_in_the_signed_query(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    api = services(emulator)
    api.configuration.webhooks().update(method="GET")
    conv = api.conversations.create()
    api.conversations(conv.sid).messages.create(body="by get", **ON)
    (hit,) = receiver.wait_for(1)
    assert hit.method == "GET" and hit.params["Body"] == "by get"
    assert signature_valid(hit)


def test_failed_delivery_is_retried_with_the_same_token(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    receiver.statuses.extend([500, 503])
    api = services(emulator)
    conv = api.conversations.create()
    api.conversations(conv.sid).messages.create(body="retry me", **ON)
    api.conversations(conv.sid).messages.create(body="next", **ON)
    hits = receiver.wait_for(4)
    assert [(h.params["Body"], h.params["RetryCount"]) for h in hits] == [
        ("retry me", "0"),
        ("retry me", "1"),
        ("retry me", "2"),
        ("next", "0"),
    ]
    tokens = {h.headers["I-Twilio-Idempotency-Token"] for h in hits[:3]}
    assert len(tokens) == 1 and hits[3].headers["I-Twilio-Idempotency-Token"] not in tokens
    assert all(signature_valid(h) for h in hits)


def test_an_unreachable_receiver_never_stops_delivery(receiver: WebhookReceiver) -> None:
    dead = "http://127.0.0.1:9/twilio/webhook"  # discard port: connection refused
    running = start_emulator(
        EmulatorSettings(post_webhook_url=dead, webhook_retry_delay=0.01, webhook_timeout=1)
    )
    try:
        api = running.client.conversations.v1.services(EMULATOR_SERVICE_SID)
        conv = api.conversations.create(**ON)
        running.wait_idle()
        api.configuration.webhooks().update(post_webhook_url=receiver.url)
        api.conversations(conv.sid).messages.create(body="after the outage", **ON)
        (hit,) = receiver.wait_for(1)
        assert hit.params["Body"] == "after the outage"
    finally:
        running.state.close()
        running.served.stop()


def test_inbound_sms_fires_webhook_with_source_sms_and_reaches_rest(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    api = services(emulator)
    conv = api.conversations.create(unique_name="support")
    phone = api.conversations(conv.sid).participants.create(
        messaging_binding_address=PHONE, messaging_binding_proxy_address=TWILIO_NUMBER
    )
    auth = (EMULATOR_ACCOUNT_SID, EMULATOR_AUTH_TOKEN)
    for target in ("support", TWILIO_NUMBER):
        response = requests.post(
            f"{emulator.url}/_dev/sms",
            data={"From": PHONE, "To": target, "Body": f"via {target}"},
            auth=auth,
            timeout=10,
        )
        assert response.status_code == 201, response.text
    first, second = receiver.wait_for(2)
    assert first.params["Source"] == "SMS" and first.params["Author"] == PHONE
    assert first.params["ParticipantSid"] == phone.sid and first.params["Body"] == "via support"
    assert second.params["Body"] == f"via {TWILIO_NUMBER}"
    (latest,) = api.conversations(conv.sid).messages.list(order="desc", limit=1)
    assert latest.author == PHONE and latest.participant_sid == phone.sid


def test_inbound_sms_from_a_stranger_is_refused(emulator: RunningEmulator) -> None:
    services(emulator).conversations.create(unique_name="support")
    response = requests.post(
        f"{emulator.url}/_dev/sms",
        data={"From": "+15550000000", "To": "support", "Body": "hi"},
        auth=(EMULATOR_ACCOUNT_SID, EMULATOR_AUTH_TOKEN),
        timeout=10,
    )
    assert response.status_code == 400 and "+15550000000" in response.json()["message"]


def test_chat_messages_reach_phone_participants_through_the_outbox(
    emulator: RunningEmulator,
) -> None:
    api = services(emulator)
    conv = api.conversations.create()
    api.conversations(conv.sid).participants.create(identity="alice")
    api.conversations(conv.sid).participants.create(
        messaging_binding_address=PHONE, messaging_binding_proxy_address=TWILIO_NUMBER
    )
    msg = api.conversations(conv.sid).messages.create(author="alice", body="Hi phone")
    assert msg.delivery["total"] == 1 and msg.delivery["sent"] == "all"
    outbox = requests.get(
        f"{emulator.url}/_dev/outbox", auth=(EMULATOR_ACCOUNT_SID, EMULATOR_AUTH_TOKEN), timeout=10
    ).json()["messages"]
    assert [(m["to"], m["from"], m["body"], m["message_sid"]) for m in outbox] == [
        (PHONE, TWILIO_NUMBER, "Hi phone", msg.sid)
    ]


def test_signatures_use_the_configured_auth_token(receiver: WebhookReceiver) -> None:
    token = "parley-own-token-0123456789abcdef"
    running = start_emulator(EmulatorSettings(auth_token=token, post_webhook_url=receiver.url))
    try:
        running.client.conversations.v1.conversations.create(**ON)
        (hit,) = receiver.wait_for(1)
        assert signature_valid(hit, token) and not signature_valid(hit)
    finally:
        running.state.close()
        running.served.stop()


def test_concurrent_writers_get_unique_indices_and_ordered_events(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    api = services(emulator)
    conv = api.conversations.create()

    def write(worker: int) -> None:
        for i in range(10):
            api.conversations(conv.sid).messages.create(body=f"{worker}-{i}", **ON)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    hits = receiver.wait_for(40)
    assert [int(h.params["Index"]) for h in hits] == list(range(40))
    assert sorted(m.index for m in api.conversations(conv.sid).messages.list()) == list(range(40))


def test_wait_idle_reports_a_queue_that_has_not_drained(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    receiver.gate = threading.Event()
    services(emulator).conversations.create(**ON)
    receiver.wait_for(1)
    assert emulator.state.wait_idle(0.05) is False
    receiver.gate.set()
    assert emulator.state.wait_idle(WAIT) is True


def test_user_added_and_updated_fire_with_the_header(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    api = services(emulator)
    api.configuration.webhooks().update(filters=["onUserAdded", "onUserUpdated"])
    user = api.users.create(identity="erin", friendly_name="Erin", **ON)
    api.users(user.sid).update(attributes='{"a": 1}', **ON)
    api.users(user.sid).update(friendly_name="quiet")
    added, updated = receiver.wait_for(2)
    emulator.wait_idle()
    assert len(receiver.received) == 2
    assert added.params["EventType"] == "onUserAdded" and added.params["UserSid"] == user.sid
    assert (added.params["Identity"], added.params["FriendlyName"]) == ("erin", "Erin")
    assert updated.params["EventType"] == "onUserUpdated"
    assert updated.params["Attributes"] == '{"a": 1}' and "DateUpdated" in updated.params
    assert "ConversationSid" not in updated.params and signature_valid(updated)
