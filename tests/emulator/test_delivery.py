"""Delivery receipts for SMS participants: `sent` then `delivered`, the Receipts list and the
message's `delivery` summary (through the `twilio` library, held to Twilio's spec), the
`onDeliveryUpdated` webhooks, numbers that fail, MMS rules, and the commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.emulator.conftest import (
    AUTH,
    EMULATOR_SERVICE_SID,
    PNG,
    ContractChecker,
    Mcs,
    McsChecker,
    RunningEmulator,
    WebhookReceiver,
    start_emulator,
)
from tests.emulator.test_cli import parley_app
from tests.emulator.test_contract import twilio_error
from twilio_emulator import EmulatorSettings
from twilio_emulator.settings import POST_EVENTS
from webapp.cli import emulator_cli

PHONE, SECOND_PHONE, TWILIO_NUMBER = "+15551234567", "+15557654321", "+15005550006"


@pytest.fixture
def receipts_emulator(
    receiver: WebhookReceiver, contract: ContractChecker
) -> Iterator[RunningEmulator]:
    """An emulator whose service subscribes to `onDeliveryUpdated` too."""
    running = start_emulator(
        EmulatorSettings(
            post_webhook_url=receiver.url,
            post_webhook_filters=(*POST_EVENTS, "onDeliveryUpdated"),
        )
    )
    yield running
    running.state.close()
    running.served.stop()
    for exchange in running.http.exchanges:
        contract.check(exchange)


def group_with_phones(running: RunningEmulator, *phones: str) -> tuple[Any, str, list[str]]:
    api = running.client.conversations.v1.services(EMULATOR_SERVICE_SID)
    conv = api.conversations.create(friendly_name="Book club")
    api.conversations(conv.sid).participants.create(identity="alice")
    sids = [
        api.conversations(conv.sid)
        .participants.create(
            messaging_binding_address=phone, messaging_binding_proxy_address=TWILIO_NUMBER
        )
        .sid
        for phone in phones
    ]
    return api, conv.sid, sids


def deliveries(receiver: WebhookReceiver) -> list[dict[str, str]]:
    return [h.params for h in receiver.received if h.params["EventType"] == "onDeliveryUpdated"]


def outbox(running: RunningEmulator) -> list[dict[str, Any]]:
    response = requests.get(f"{running.url}/_dev/outbox", auth=AUTH, timeout=10)
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


def test_a_text_to_a_phone_is_sent_then_delivered(
    receipts_emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    api, conv_sid, (phone_sid,) = group_with_phones(receipts_emulator, PHONE)
    msg = api.conversations(conv_sid).messages.create(author="alice", body="Meeting at 7")
    assert msg.delivery["total"] == 1 and msg.delivery["sent"] == "all"
    receipts_emulator.wait_idle()
    sent, delivered = deliveries(receiver)
    assert (sent["Status"], delivered["Status"]) == ("sent", "delivered")
    for params in (sent, delivered):
        assert params["MessageSid"] == msg.sid and params["ParticipantSid"] == phone_sid
        assert params["DeliveryReceiptSid"].startswith("DY") and params["ErrorCode"] == "0"
        assert params["ConversationSid"] == conv_sid
        assert params["ChannelMessageSid"].startswith("SM")
    assert sent["DeliveryReceiptSid"] == delivered["DeliveryReceiptSid"]

    fetched = api.conversations(conv_sid).messages(msg.sid).fetch()
    assert fetched.delivery == {
        "total": 1,
        "sent": "all",
        "delivered": "all",
        "read": "none",
        "failed": "none",
        "undelivered": "none",
    }
    receipts = api.conversations(conv_sid).messages(msg.sid).delivery_receipts
    (receipt,) = receipts.list()
    assert (receipt.status, receipt.participant_sid, receipt.error_code) == (
        "delivered",
        phone_sid,
        0,
    )
    assert receipts(receipt.sid).fetch().sid == sent["DeliveryReceiptSid"]
    v1 = receipts_emulator.client.conversations.v1
    assert v1.conversations(conv_sid).messages(msg.sid).delivery_receipts.list()[0].sid
    assert outbox(receipts_emulator)[0]["status"] == "delivered"


def test_receipts_of_unknown_messages_and_receipts_are_404(
    receipts_emulator: RunningEmulator,
) -> None:
    api, conv_sid, _ = group_with_phones(receipts_emulator, PHONE)
    msg = api.conversations(conv_sid).messages.create(body="x")
    receipts = api.conversations(conv_sid).messages(msg.sid).delivery_receipts
    assert twilio_error(receipts("DY" + "0" * 32).fetch).status == 404
    gone = api.conversations(conv_sid).messages("IM" + "0" * 32).delivery_receipts
    assert twilio_error(gone.list).status == 404


def test_a_failing_number_gets_undelivered_with_twilios_code(
    receipts_emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    api, conv_sid, (good, bad) = group_with_phones(receipts_emulator, PHONE, SECOND_PHONE)
    runner = parley_app(TWILIO_EMULATOR_URL=receipts_emulator.url).test_cli_runner()
    result = runner.invoke(emulator_cli, ["sms-fail", SECOND_PHONE, "--code", "30006"])
    assert result.exit_code == 0 and "30006" in result.output, result.output

    msg = api.conversations(conv_sid).messages.create(author="alice", body="Hello both")
    receipts_emulator.wait_idle()
    statuses = {(p["ParticipantSid"], p["Status"], p["ErrorCode"]) for p in deliveries(receiver)}
    assert statuses == {
        (good, "sent", "0"),
        (bad, "undelivered", "30006"),
        (good, "delivered", "0"),
    }
    summary = api.conversations(conv_sid).messages(msg.sid).fetch().delivery
    assert (summary["delivered"], summary["undelivered"], summary["sent"]) == (
        "some",
        "some",
        "some",
    )
    lines = runner.invoke(emulator_cli, ["outbox"]).output
    assert f"-> {SECOND_PHONE}  [undelivered error 30006]" in lines

    runner.invoke(emulator_cli, ["sms-fail", SECOND_PHONE, "--code", "0"])
    again = api.conversations(conv_sid).messages.create(author="alice", body="Better?")
    assert api.conversations(conv_sid).messages(again.sid).fetch().delivery["delivered"] == "all"


def test_the_magic_number_fails_with_the_code_it_spells(receipts_emulator: RunningEmulator) -> None:
    api, conv_sid, _ = group_with_phones(receipts_emulator, "+15550030007", "+15550030010")
    msg = api.conversations(conv_sid).messages.create(author="alice", body="Anyone?")
    receipts = api.conversations(conv_sid).messages(msg.sid).delivery_receipts.list()
    assert sorted((r.status, r.error_code) for r in receipts) == [
        ("failed", 30010),
        ("undelivered", 30007),
    ]
    assert api.conversations(conv_sid).messages(msg.sid).fetch().delivery["failed"] == "some"


def test_sms_fail_refuses_what_is_not_a_phone_number(receipts_emulator: RunningEmulator) -> None:
    response = requests.post(
        f"{receipts_emulator.url}/_dev/sms-fail", data={"Number": "bob"}, auth=AUTH, timeout=10
    )
    assert response.status_code == 400
    ContractChecker.check_error(400, response.json())


@pytest.mark.parametrize(
    ("content_type", "size", "status", "code"),
    [
        ("image/png", 100, "delivered", 0),
        ("application/pdf", 100, "delivered", 0),
        ("image/svg+xml", 100, "failed", 63021),
        ("image/jpeg", 5 * 1024 * 1024, "failed", 30019),
    ],
)
def test_media_reaches_phones_as_mms_only_when_twilio_would_relay_it(
    receipts_emulator: RunningEmulator,
    mcs_checker: McsChecker,
    content_type: str,
    size: int,
    status: str,
    code: int,
) -> None:
    api, conv_sid, _ = group_with_phones(receipts_emulator, PHONE)
    media = Mcs(receipts_emulator.url, mcs_checker).upload(b"m" * size, content_type)
    msg = api.conversations(conv_sid).messages.create(author="alice", media_sid=media["sid"])
    (receipt,) = api.conversations(conv_sid).messages(msg.sid).delivery_receipts.list()
    assert (receipt.status, receipt.error_code) == (status, code)
    assert receipt.channel_message_sid.startswith("MM")
    (sms,) = outbox(receipts_emulator)
    assert sms["body"] is None and sms["status"] == status
    assert sms["media"] == [
        {"sid": media["sid"], "filename": None, "content_type": content_type, "size": size}
    ]


def test_sms_command_sends_an_inbound_mms(
    receipts_emulator: RunningEmulator, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    api, conv_sid, _ = group_with_phones(receipts_emulator, PHONE)
    photo = tmp_path / "sunset.png"
    photo.write_bytes(PNG)
    runner = parley_app(TWILIO_EMULATOR_URL=receipts_emulator.url).test_cli_runner()
    result = runner.invoke(
        emulator_cli, ["sms", "--from", PHONE, "--to", conv_sid, "--media", str(photo)]
    )
    assert result.exit_code == 0, result.output
    (msg,) = api.conversations(conv_sid).messages.list()
    assert msg.body is None and msg.author == PHONE
    assert msg.media[0]["filename"] == "sunset.png"
    assert msg.media[0]["content_type"] == "image/png"
    receipts_emulator.wait_idle()
    (added,) = [h.params for h in receiver.received if h.params["EventType"] == "onMessageAdded"]
    assert "Body" not in added and added["Source"] == "SMS"
    assert json.loads(added["Media"])[0]["Filename"] == "sunset.png"

    missing = runner.invoke(emulator_cli, ["sms", "--from", PHONE, "--to", conv_sid])
    assert missing.exit_code == 2 and "--body" in missing.output


def test_outbox_command_shows_media_sent_to_phones(
    receipts_emulator: RunningEmulator, mcs_checker: McsChecker
) -> None:
    api, conv_sid, _ = group_with_phones(receipts_emulator, PHONE)
    media = Mcs(receipts_emulator.url, mcs_checker).upload_file(PNG, "map.png", "image/png")
    api.conversations(conv_sid).messages.create(author="alice", body="Here", media_sid=media["sid"])
    runner = parley_app(TWILIO_EMULATOR_URL=receipts_emulator.url).test_cli_runner()
    output = runner.invoke(emulator_cli, ["outbox"]).output
    assert f"-> {PHONE}  [delivered]" in output
    assert "    Here\n" in output and f"[MMS] map.png (image/png, {len(PNG)} bytes)" in output


def test_receipts_and_failing_numbers_survive_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "emulator.sqlite3")
    first = start_emulator(EmulatorSettings(persist_path=path))
    api, conv_sid, _ = group_with_phones(first, PHONE)
    first.state.store.set_failing_number(SECOND_PHONE, 30003)
    msg = api.conversations(conv_sid).messages.create(author="alice", body="x")
    first.state.close()
    first.served.stop()
    second = start_emulator(EmulatorSettings(persist_path=path))
    try:
        v1 = second.client.conversations.v1.services(EMULATOR_SERVICE_SID)
        (receipt,) = v1.conversations(conv_sid).messages(msg.sid).delivery_receipts.list()
        assert receipt.status == "delivered"
        v1.conversations(conv_sid).participants.create(
            messaging_binding_address=SECOND_PHONE, messaging_binding_proxy_address=TWILIO_NUMBER
        )
        later = v1.conversations(conv_sid).messages.create(author="alice", body="y")
        receipts = v1.conversations(conv_sid).messages(later.sid).delivery_receipts.list()
        statuses = {r.status for r in receipts}
        assert statuses == {"delivered", "undelivered"}
    finally:
        second.state.close()
        second.served.stop()


WHATSAPP, WHATSAPP_SENDER = "whatsapp:+15551112222", "whatsapp:+14155238886"


def test_whatsapp_participants_get_receipts_and_media_up_to_16_mb(
    receipts_emulator: RunningEmulator, receiver: WebhookReceiver, mcs_checker: McsChecker
) -> None:
    api = receipts_emulator.client.conversations.v1.services(EMULATOR_SERVICE_SID)
    conv = api.conversations.create()
    part = api.conversations(conv.sid).participants.create(
        messaging_binding_address=WHATSAPP, messaging_binding_proxy_address=WHATSAPP_SENDER
    )
    assert part.messaging_binding == {
        "type": "whatsapp",
        "address": WHATSAPP,
        "proxy_address": WHATSAPP_SENDER,
    }
    svg = Mcs(receipts_emulator.url, mcs_checker).upload(b"<svg/>", "image/svg+xml")
    msg = api.conversations(conv.sid).messages.create(author="alice", media_sid=svg["sid"])
    (receipt,) = api.conversations(conv.sid).messages(msg.sid).delivery_receipts.list()
    assert receipt.status == "delivered"  # WhatsApp is not bound by MMS's list of types

    reply = requests.post(
        f"{receipts_emulator.url}/_dev/sms",
        data={"From": WHATSAPP, "To": WHATSAPP_SENDER, "Body": "Got it"},
        auth=AUTH,
        timeout=10,
    )
    assert reply.status_code == 201, reply.text
    receipts_emulator.wait_idle()
    sources = {(h.params["EventType"], h.params["Source"]) for h in receiver.received}
    assert ("onDeliveryUpdated", "WHATSAPP") in sources
    assert ("onMessageAdded", "WHATSAPP") in sources


@pytest.mark.parametrize(
    ("address", "proxy", "code"),
    [
        (WHATSAPP, "+15005550006", 50408),  # one channel per participant
        ("whatsapp:5551112222", WHATSAPP_SENDER, 50407),
        ("whatsapp:", WHATSAPP_SENDER, 50407),
    ],
)
def test_whatsapp_addresses_are_checked(
    receipts_emulator: RunningEmulator, address: str, proxy: str, code: int
) -> None:
    api = receipts_emulator.client.conversations.v1
    conv = api.conversations.create()
    error = twilio_error(
        api.conversations(conv.sid).participants.create,
        messaging_binding_address=address,
        messaging_binding_proxy_address=proxy,
    )
    assert (error.status, error.code) == (400, code)
