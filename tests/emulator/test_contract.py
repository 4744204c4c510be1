"""Every operation Parley uses, driven through the official `twilio` library over real HTTP,
in both path forms; the `emulator` fixture checks each response against Twilio's OpenAPI spec
on teardown (shape, exact field set, error shape)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from tests.emulator.conftest import (
    EMULATOR_ACCOUNT_SID,
    EMULATOR_SERVICE_SID,
    ContractChecker,
    RecordingHttpClient,
    RunningEmulator,
)
from twilio_emulator.credentials import EMULATOR_API_KEY_SECRET, EMULATOR_API_KEY_SID

DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def sid_of(prefix: str, value: str) -> bool:
    return re.fullmatch(prefix + "[0-9a-f]{32}", value) is not None


def twilio_error(call: Any, *args: Any, **kwargs: Any) -> TwilioRestException:
    """The Twilio error a call raises. The library raises `TwilioRestException` for fetch,
    create, update and delete, but a bare `TwilioException(message, response)` for lists."""
    with pytest.raises(TwilioException) as caught:
        call(*args, **kwargs)
    error = caught.value
    if isinstance(error, TwilioRestException):
        return error
    response = error.args[1]
    body = json.loads(response.text)
    return TwilioRestException(response.status_code, "", body["message"], body["code"])


def test_conversation_lifecycle(api: Any) -> None:
    conv = api.conversations.create(
        friendly_name="Support", unique_name="support", attributes='{"topic": "help"}'
    )
    assert sid_of("CH", conv.sid) and conv.chat_service_sid == EMULATOR_SERVICE_SID
    assert conv.state == "active" and conv.timers == {} and conv.bindings is None
    assert conv.attributes == '{"topic": "help"}'
    assert conv.url.startswith("https://conversations.twilio.com/v1/")
    assert api.conversations(conv.sid).fetch().unique_name == "support"
    assert api.conversations("support").fetch().sid == conv.sid

    updated = api.conversations(conv.sid).update(
        friendly_name="Help desk", attributes="{}", unique_name="help", state="inactive"
    )
    assert (updated.friendly_name, updated.unique_name, updated.state) == (
        "Help desk",
        "help",
        "inactive",
    )
    assert api.conversations("help").fetch().sid == conv.sid
    assert twilio_error(api.conversations("support").fetch).status == 404

    assert [c.sid for c in api.conversations.list()] == [conv.sid]
    assert api.conversations(conv.sid).delete() is True
    error = twilio_error(api.conversations(conv.sid).fetch)
    assert (error.status, error.code) == (404, 20404)


def test_conversation_defaults_and_date_format(api: Any) -> None:
    conv = api.conversations.create()
    fetched = api.conversations(conv.sid).fetch()
    assert fetched.attributes == "{}" and fetched.friendly_name is None
    assert fetched.unique_name is None


def test_date_updated_changes_on_update(emulator: RunningEmulator) -> None:
    v1 = emulator.client.conversations.v1
    conv = v1.conversations.create(friendly_name="a")
    raw = emulator.http.exchanges[-1]
    assert DATE.fullmatch(json.loads(raw.body)["date_created"])
    store_conv = emulator.state.store.get_conversation(EMULATOR_SERVICE_SID, conv.sid)
    updated = v1.conversations(conv.sid).update(friendly_name="b")
    after = emulator.state.store.get_conversation(EMULATOR_SERVICE_SID, conv.sid)
    assert after.date_updated > store_conv.date_updated
    assert updated.date_created == conv.date_created


def test_participants_chat_and_sms(api: Any) -> None:
    conv = api.conversations.create(friendly_name="Room")
    participants = api.conversations(conv.sid).participants
    alice = participants.create(identity="alice", attributes='{"role": "agent"}')
    phone = participants.create(
        messaging_binding_address="+15551234567", messaging_binding_proxy_address="+15005550006"
    )
    assert sid_of("MB", alice.sid) and alice.identity == "alice"
    assert alice.messaging_binding is None and alice.last_read_message_index is None
    assert phone.identity is None
    assert phone.messaging_binding == {
        "type": "sms",
        "address": "+15551234567",
        "proxy_address": "+15005550006",
    }
    assert participants(alice.sid).fetch().identity == "alice"
    assert participants("alice").fetch().sid == alice.sid
    assert [p.sid for p in participants.list()] == [alice.sid, phone.sid]

    read = participants(alice.sid).update(last_read_message_index=3, attributes="{}")
    assert read.last_read_message_index == 3 and read.attributes == "{}"
    assert read.last_read_timestamp is not None

    assert participants(phone.sid).delete() is True
    assert [p.sid for p in participants.list()] == [alice.sid]
    assert twilio_error(participants(phone.sid).fetch).code == 20404


def test_messages_index_order_and_paging(api: Any) -> None:
    conv = api.conversations.create()
    api.conversations(conv.sid).participants.create(identity="alice")
    messages = api.conversations(conv.sid).messages
    sent = [messages.create(author="alice", body=f"m{i}") for i in range(5)]
    assert [m.index for m in sent] == [0, 1, 2, 3, 4]
    assert sent[0].participant_sid is not None and sent[0].delivery is None
    assert sent[0].attributes == "{}" and sid_of("IM", sent[0].sid)

    assert [m.body for m in messages.list()] == ["m0", "m1", "m2", "m3", "m4"]
    assert [m.body for m in messages.list(order="desc")] == ["m4", "m3", "m2", "m1", "m0"]
    # The library follows next_page_url (Twilio's host, rewritten by the http client).
    assert [m.index for m in messages.list(page_size=2)] == [0, 1, 2, 3, 4]
    assert [m.index for m in messages.list(order="desc", page_size=2, limit=3)] == [4, 3, 2]

    first = messages.page(page_size=2)
    second = first.next_page()
    assert [m.index for m in second] == [2, 3]
    assert [m.index for m in second.previous_page()] == [0, 1]
    assert second.next_page() is not None and second.next_page().next_page() is None

    edited = messages(sent[1].sid).update(body="edited", attributes='{"edited": true}')
    assert edited.body == "edited" and edited.index == 1
    assert messages(sent[1].sid).fetch().attributes == '{"edited": true}'

    assert messages(sent[4].sid).delete() is True
    assert messages.create(body="after delete").index == 5  # indices are never reused
    assert messages.create(body="system").author == "system"


def test_list_envelope_meta(emulator: RunningEmulator) -> None:
    v1 = emulator.client.conversations.v1
    conv = v1.conversations.create()
    for i in range(3):
        v1.conversations(conv.sid).messages.create(body=str(i))
    v1.conversations(conv.sid).messages.page(page_size=2, order="desc")
    meta = json.loads(emulator.http.exchanges[-1].body)["meta"]
    base = f"https://conversations.twilio.com/v1/Conversations/{conv.sid}/Messages"
    assert meta["key"] == "messages" and meta["page"] == 0 and meta["page_size"] == 2
    assert meta["first_page_url"] == f"{base}?Order=desc&PageSize=2&Page=0"
    assert meta["url"] == f"{base}?Order=desc&PageSize=2&Page=0"
    assert meta["previous_page_url"] is None
    assert meta["next_page_url"].startswith(f"{base}?Order=desc&PageSize=2&Page=1&PageToken=")


def test_page_size_default_and_cap(emulator: RunningEmulator) -> None:
    v1 = emulator.client.conversations.v1
    conv = v1.conversations.create()
    v1.conversations(conv.sid).messages.page()
    assert json.loads(emulator.http.exchanges[-1].body)["meta"]["page_size"] == 50
    v1.conversations(conv.sid).messages.page(page_size=1000)
    assert json.loads(emulator.http.exchanges[-1].body)["meta"]["page_size"] == 100
    too_large = twilio_error(v1.conversations(conv.sid).messages.page, page_size=1001)
    assert (too_large.status, too_large.code) == (400, 20007)


def test_participant_conversations_by_identity_and_address(api: Any) -> None:
    first = api.conversations.create(unique_name="one")
    second = api.conversations.create(unique_name="two")
    api.conversations(first.sid).participants.create(identity="alice")
    api.conversations(second.sid).participants.create(identity="alice")
    api.conversations(second.sid).participants.create(
        messaging_binding_address="+15551234567", messaging_binding_proxy_address="+15005550006"
    )
    by_identity = api.participant_conversations.list(identity="alice")
    assert [c.conversation_unique_name for c in by_identity] == ["one", "two"]
    assert by_identity[0].participant_identity == "alice"
    assert sid_of("US", by_identity[0].participant_user_sid)
    by_address = api.participant_conversations.list(address="+15551234567")
    assert [c.conversation_sid for c in by_address] == [second.sid]
    assert by_address[0].participant_messaging_binding["address"] == "+15551234567"
    assert api.participant_conversations.list(identity="nobody") == []


def test_users_and_unread_counts(api: Any) -> None:
    user = api.users.create(identity="bob", friendly_name="Bob")
    assert sid_of("US", user.sid) and user.attributes == "{}"
    assert api.users(user.sid).fetch().identity == "bob"
    assert api.users("bob").fetch().sid == user.sid
    conv = api.conversations.create(friendly_name="Chat")
    bob = api.conversations(conv.sid).participants.create(identity="bob")
    for body in ("a", "b", "c"):
        api.conversations(conv.sid).messages.create(body=body)
    assert api.users(user.sid).user_conversations.list()[0].unread_messages_count is None
    api.conversations(conv.sid).participants(bob.sid).update(last_read_message_index=0)
    (row,) = api.users("bob").user_conversations.list()
    assert (row.unread_messages_count, row.last_read_message_index) == (2, 0)
    assert row.conversation_sid == conv.sid and row.participant_sid == bob.sid
    api.conversations(conv.sid).participants.create(identity="carol")
    assert {u.identity for u in api.users.list()} == {"bob", "carol"}  # joined → user


def test_a_user_conversations_notification_level_and_read_horizon(api: Any) -> None:
    conv = api.conversations.create(friendly_name="Busy group")
    api.conversations(conv.sid).participants.create(identity="bob")
    api.conversations(conv.sid).participants.create(identity="carol")
    api.conversations(conv.sid).messages.create(body="a")
    api.conversations(conv.sid).messages.create(body="b")
    bobs = api.users("bob").user_conversations(conv.sid)
    assert bobs.fetch().notification_level == "default"

    muted = bobs.update(notification_level="muted")

    assert muted.notification_level == "muted" and muted.conversation_sid == conv.sid
    (row,) = api.users("bob").user_conversations.list()
    assert row.notification_level == "muted"  # the list agrees
    assert api.users("carol").user_conversations(conv.sid).fetch().notification_level == "default"
    read = bobs.update(last_read_message_index=0)
    assert (read.last_read_message_index, read.unread_messages_count) == (0, 1)
    assert bobs.update(notification_level="default").notification_level == "default"
    with pytest.raises(TwilioRestException) as refused:
        bobs.update(notification_level="silent")
    assert refused.value.status == 400
    with pytest.raises(TwilioRestException) as outsider:
        api.users("carol").user_conversations(api.conversations.create().sid).fetch()
    assert outsider.value.status == 404


def test_services_and_webhook_configuration(emulator: RunningEmulator) -> None:
    v1 = emulator.client.conversations.v1
    (service,) = v1.services.list()
    assert service.sid == EMULATOR_SERVICE_SID
    assert v1.services(EMULATOR_SERVICE_SID).fetch().friendly_name == service.friendly_name
    config = v1.services(EMULATOR_SERVICE_SID).configuration.webhooks().fetch()
    assert config.post_webhook_url.endswith("/twilio/webhook") and config.method == "POST"
    assert "onMessageAdded" in config.filters
    updated = (
        v1.services(EMULATOR_SERVICE_SID)
        .configuration.webhooks()
        .update(
            post_webhook_url="https://example.com/post",
            filters=["onMessageAdded", "onMessageRemoved"],
            method="GET",
        )
    )
    assert updated.filters == ["onMessageAdded", "onMessageRemoved"]
    assert (updated.method, updated.post_webhook_url) == ("GET", "https://example.com/post")
    assert twilio_error(v1.services("IS" + "1" * 32).fetch).status == 404


def test_api_key_credentials_are_accepted(emulator: RunningEmulator) -> None:
    http = RecordingHttpClient(emulator.url)
    client = Client(
        EMULATOR_API_KEY_SID, EMULATOR_API_KEY_SECRET, EMULATOR_ACCOUNT_SID, http_client=http
    )
    assert client.conversations.v1.conversations.list() == []


def test_wrong_credentials_are_refused(
    emulator: RunningEmulator, contract: ContractChecker
) -> None:
    http = RecordingHttpClient(emulator.url)
    client = Client(EMULATOR_ACCOUNT_SID, "wrong-token", http_client=http)
    error = twilio_error(client.conversations.v1.conversations.list)
    assert (error.status, error.code) == (401, 20003)
    contract.check(http.exchanges[-1])


@pytest.mark.parametrize(
    ("call", "status", "code"),
    [
        (lambda api, c: api.conversations.create(unique_name="taken"), 409, 50353),
        (lambda api, c: api.conversations(c).update(unique_name="taken"), 409, 50353),
        (lambda api, c: api.conversations.create(unique_name="CH" + "a" * 32), 400, 50390),
        (lambda api, c: api.conversations.create(friendly_name="x" * 257), 400, 50003),
        (lambda api, c: api.conversations.create(attributes="{nope"), 400, 50304),
        (lambda api, c: api.conversations.create(attributes=_json(16 * 1024)), 400, 50303),
        (lambda api, c: api.conversations.create(state="sleeping"), 400, 20001),
        (lambda api, c: api.conversations(c).participants.create(identity="alice"), 409, 50433),
        (lambda api, c: api.conversations(c).participants.create(), 400, 50204),
        (
            lambda api, c: api.conversations(c).participants.create(identity="x" * 257),
            400,
            50207,
        ),
        (
            lambda api, c: api.conversations(c).participants.create(
                identity="dave", messaging_binding_address="+15550000001"
            ),
            400,
            50211,
        ),
        (
            lambda api, c: api.conversations(c).participants.create(
                messaging_binding_address="555-1234", messaging_binding_proxy_address="+15005550006"
            ),
            400,
            50407,
        ),
        (
            lambda api, c: api.conversations(c).participants.create(
                messaging_binding_address="+15550000001", messaging_binding_proxy_address="nope"
            ),
            400,
            50408,
        ),
        (
            lambda api, c: api.conversations(c).participants.create(
                messaging_binding_address="+15005550006",
                messaging_binding_proxy_address="+15005550006",
            ),
            400,
            50409,
        ),
        (
            lambda api, c: api.conversations(c).participants.create(
                identity="erin", attributes=_json(4 * 1024)
            ),
            400,
            50303,
        ),
        (lambda api, c: api.conversations(c).messages.create(body="x" * 32769), 400, 50504),
        (
            lambda api, c: api.conversations(c).messages.create(body="hi", attributes="[1,"),
            400,
            50304,
        ),
        (lambda api, c: api.conversations(c).messages.create(), 400, 20001),
        (lambda api, c: api.conversations(c).messages("IM" + "0" * 32).fetch(), 404, 20404),
        (lambda api, c: api.conversations(c).participants("MB" + "0" * 32).fetch(), 404, 20404),
        (lambda api, c: api.conversations("CH" + "0" * 32).messages.list(), 404, 20404),
        (lambda api, c: api.conversations(c).messages.list(order="sideways"), 400, 20001),
        (lambda api, c: api.participant_conversations.list(), 400, 20001),
        (
            lambda api, c: api.participant_conversations.list(identity="a", address="+15550001"),
            400,
            50451,
        ),
        (lambda api, c: api.users.create(identity="alice"), 409, 50201),
        (lambda api, c: api.users("nobody").fetch(), 404, 20404),
    ],
)
def test_invalid_requests_get_twilio_errors(api: Any, call: Any, status: int, code: int) -> None:
    conv = api.conversations.create(unique_name="taken")
    other = api.conversations.create()
    api.conversations(conv.sid).participants.create(identity="alice")
    error = twilio_error(call, api, other.sid if code == 50353 else conv.sid)
    assert (error.status, error.code) == (status, code), error.msg


def test_sms_pair_is_unique_among_open_conversations(api: Any) -> None:
    pair = {
        "messaging_binding_address": "+15551234567",
        "messaging_binding_proxy_address": "+15005550006",
    }
    first = api.conversations.create()
    second = api.conversations.create()
    api.conversations(first.sid).participants.create(**pair)
    error = twilio_error(api.conversations(second.sid).participants.create, **pair)
    assert (error.status, error.code) == (409, 50416)
    api.conversations(first.sid).update(state="closed")
    assert api.conversations(second.sid).participants.create(**pair).messaging_binding


def _json(size: int) -> str:
    """A valid JSON string of at least `size` bytes."""
    return json.dumps({"padding": "x" * size})


V0_OPERATIONS = {
    f"{verb}{scope}{resource}"
    for scope in ("", "Service")
    for verb, resource in [
        ("Create", "Conversation"),
        ("Fetch", "Conversation"),
        ("List", "Conversation"),
        ("Update", "Conversation"),
        ("Delete", "Conversation"),
        ("Create", "ConversationParticipant"),
        ("Fetch", "ConversationParticipant"),
        ("List", "ConversationParticipant"),
        ("Update", "ConversationParticipant"),
        ("Delete", "ConversationParticipant"),
        ("Create", "ConversationMessage"),
        ("Fetch", "ConversationMessage"),
        ("List", "ConversationMessage"),
        ("Update", "ConversationMessage"),
        ("Delete", "ConversationMessage"),
        ("List", "ParticipantConversation"),
        ("Create", "User"),
        ("Fetch", "User"),
        ("List", "User"),
        ("List", "UserConversation"),
    ]
} | {
    "ListService",
    "FetchService",
    "FetchServiceWebhookConfiguration",
    "UpdateServiceWebhookConfiguration",
}


def test_every_v0_operation_is_covered_and_valid(
    emulator: RunningEmulator, contract: ContractChecker
) -> None:
    """One pass over every v0 operation in both path forms, each response checked here."""
    v1 = emulator.client.conversations.v1
    v1.services.list()
    v1.services(EMULATOR_SERVICE_SID).fetch()
    v1.services(EMULATOR_SERVICE_SID).configuration.webhooks().fetch()
    v1.services(EMULATOR_SERVICE_SID).configuration.webhooks().update(method="POST")
    for api in (v1, v1.services(EMULATOR_SERVICE_SID)):
        conv = api.conversations.create(friendly_name="All")
        api.conversations(conv.sid).fetch()
        api.conversations.list()
        api.conversations(conv.sid).update(attributes='{"a": 1}')
        part = api.conversations(conv.sid).participants.create(identity=f"u{len(conv.sid)}")
        api.conversations(conv.sid).participants(part.sid).fetch()
        api.conversations(conv.sid).participants.list()
        api.conversations(conv.sid).participants(part.sid).update(last_read_message_index=0)
        msg = api.conversations(conv.sid).messages.create(body="hi", author=part.identity)
        api.conversations(conv.sid).messages(msg.sid).fetch()
        api.conversations(conv.sid).messages.list(order="desc")
        api.conversations(conv.sid).messages(msg.sid).update(body="hi!")
        api.participant_conversations.list(identity=part.identity)
        user = api.users.create(identity=f"user-{conv.sid}")
        api.users(user.sid).fetch()
        api.users.list()
        api.users(part.identity).user_conversations.list()
        api.conversations(conv.sid).messages(msg.sid).delete()
        api.conversations(conv.sid).participants(part.sid).delete()
        api.conversations(conv.sid).delete()
    contract.checked.clear()
    for exchange in emulator.http.exchanges:
        contract.check(exchange)
    assert contract.checked == V0_OPERATIONS
