"""Where post-events go: conversation-scoped webhooks alongside the service webhook, and the
account's global webhooks when the service has none. Waits are conditions with deadlines."""

from __future__ import annotations

from typing import Any

from tests.emulator.conftest import RunningEmulator, WebhookReceiver
from tests.emulator.test_webhooks import ON, services, signature_valid


def scoped_hook(api: Any, conv_sid: str, url: str, filters: list[str], method: str = "post") -> Any:
    return api.conversations(conv_sid).webhooks.create(
        target="webhook",
        configuration_url=url,
        configuration_method=method,
        configuration_filters=filters,
    )


def test_scoped_webhook_hears_its_conversation_beside_the_service_webhook(
    emulator: RunningEmulator, receiver: WebhookReceiver, second_receiver: WebhookReceiver
) -> None:
    api = services(emulator)
    conv = api.conversations.create()
    other = api.conversations.create()
    hook = scoped_hook(api, conv.sid, second_receiver.url, ["onMessageAdded"])
    api.conversations(conv.sid).participants.create(identity="alice", **ON)
    msg = api.conversations(conv.sid).messages.create(author="alice", body="hi", **ON)
    api.conversations(other.sid).messages.create(body="elsewhere", **ON)
    emulator.wait_idle()
    assert receiver.events() == ["onParticipantAdded", "onMessageAdded", "onMessageAdded"]
    (scoped,) = second_receiver.received
    assert scoped.params["EventType"] == "onMessageAdded"
    assert scoped.params["MessageSid"] == msg.sid and scoped.params["WebhookSid"] == hook.sid
    assert scoped.params["ConversationSid"] == conv.sid and scoped.params["Source"] == "API"
    assert scoped.headers["I-Twilio-Idempotency-Token"]
    assert signature_valid(scoped)
    service_hit = receiver.received[1]
    assert service_hit.params["WebhookSid"] != hook.sid
    assert {k: v for k, v in service_hit.params.items() if k != "WebhookSid"} == {
        k: v for k, v in scoped.params.items() if k != "WebhookSid"
    }


def test_scoped_webhook_follows_its_method_and_updates(
    emulator: RunningEmulator, second_receiver: WebhookReceiver
) -> None:
    api = services(emulator)
    conv = api.conversations.create()
    hook = scoped_hook(api, conv.sid, second_receiver.url, ["onMessageAdded"], method="get")
    api.conversations(conv.sid).messages.create(body="by get", **ON)
    (hit,) = second_receiver.wait_for(1)
    assert hit.method == "GET" and hit.params["Body"] == "by get" and signature_valid(hit)
    api.conversations(conv.sid).webhooks(hook.sid).update(
        configuration_filters=["onMessageUpdated"]
    )
    msg = api.conversations(conv.sid).messages.create(body="not heard", **ON)
    api.conversations(conv.sid).messages(msg.sid).update(body="heard", **ON)
    emulator.wait_idle()
    assert [h.params["EventType"] for h in second_receiver.received] == [
        "onMessageAdded",
        "onMessageUpdated",
    ]


def test_scoped_webhooks_need_the_header_for_rest_changes_too(
    emulator: RunningEmulator, second_receiver: WebhookReceiver
) -> None:
    api = services(emulator)
    conv = api.conversations.create()
    scoped_hook(api, conv.sid, second_receiver.url, ["onMessageAdded"])
    api.conversations(conv.sid).messages.create(body="quiet")
    emulator.wait_idle()
    assert second_receiver.received == []


def test_scoped_webhook_hears_its_conversation_removed_then_is_gone(
    emulator: RunningEmulator, second_receiver: WebhookReceiver
) -> None:
    api = services(emulator)
    conv = api.conversations.create()
    scoped_hook(api, conv.sid, second_receiver.url, ["onConversationRemoved"])
    emulator.client.request("DELETE", conv.url, headers={"X-Twilio-Webhook-Enabled": "true"})
    (hit,) = second_receiver.wait_for(1)
    assert hit.params["EventType"] == "onConversationRemoved"
    assert "DateRemoved" in hit.params


def test_inbound_sms_reaches_scoped_webhooks_without_any_header(
    emulator: RunningEmulator, second_receiver: WebhookReceiver
) -> None:
    api = services(emulator)
    conv = api.conversations.create(unique_name="support")
    api.conversations(conv.sid).participants.create(
        messaging_binding_address="+15551234567", messaging_binding_proxy_address="+15005550006"
    )
    scoped_hook(api, conv.sid, second_receiver.url, ["onMessageAdded"])
    emulator.state.store.receive_sms(
        emulator.state.settings.service_sid, from_="+15551234567", to="support", body="txt"
    )
    (hit,) = second_receiver.wait_for(1)
    assert hit.params["Source"] == "SMS" and hit.params["Body"] == "txt"


def test_global_webhooks_apply_only_while_the_service_has_none(
    emulator: RunningEmulator, receiver: WebhookReceiver, second_receiver: WebhookReceiver
) -> None:
    v1 = emulator.client.conversations.v1
    api = services(emulator)
    api.configuration.webhooks().update(post_webhook_url="", pre_webhook_url="")
    global_hooks = v1.configuration.webhooks().update(
        post_webhook_url=second_receiver.url, filters=["onConversationAdded"]
    )
    first = api.conversations.create(friendly_name="global", **ON)
    (hit,) = second_receiver.wait_for(1)
    assert hit.params["ConversationSid"] == first.sid
    assert hit.params["WebhookSid"].startswith("WH") and global_hooks.post_webhook_url
    api.configuration.webhooks().update(post_webhook_url=receiver.url)
    api.conversations.create(friendly_name="service", **ON)
    emulator.wait_idle()
    assert len(second_receiver.received) == 1
    assert [h.params["FriendlyName"] for h in receiver.received] == ["service"]
