"""The emulator's Media Content Service over real HTTP, every answer held to its schema
(`twilio_emulator/mcs_openapi.yaml`, written from Twilio's docs), and messages that carry media:
the `media` array, `MediaSid` errors, and webhooks with `Media` and without `Body`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.emulator.conftest import (
    EMULATOR_SERVICE_SID,
    PNG,
    ContractChecker,
    Mcs,
    McsChecker,
    RunningEmulator,
    WebhookReceiver,
    start_emulator,
)
from tests.emulator.test_contract import twilio_error
from twilio_emulator import EmulatorSettings, mcs


@pytest.fixture
def media_service(emulator: RunningEmulator, mcs_checker: McsChecker) -> Mcs:
    return Mcs(emulator.url, mcs_checker)


@pytest.fixture
def small_emulator(mcs_checker: McsChecker) -> Iterator[Mcs]:
    """An emulator whose MCS takes at most 1 KB a file, to test the limit cheaply."""
    running = start_emulator(EmulatorSettings(media_max_bytes=1024))
    yield Mcs(running.url, mcs_checker)
    running.state.close()
    running.served.stop()


def test_raw_upload_is_fetched_and_served_by_both_links(media_service: Mcs) -> None:
    media = media_service.upload(PNG, "image/png")
    assert media["sid"].startswith("ME") and media["size"] == len(PNG)
    assert (media["content_type"], media["filename"], media["category"]) == (
        "image/png",
        None,
        "media",
    )
    assert media["message_sid"] is None and media["channel_sid"] is None
    path = f"/v1/Services/{EMULATOR_SERVICE_SID}/Media/{media['sid']}"
    assert media["url"] == path and media["links"]["content"] == path + "/Content"
    assert media_service.call("GET", path).json()["sid"] == media["sid"]

    content = media_service.call("GET", path + "/Content")
    assert content.content == PNG and content.headers["Content-Type"] == "image/png"
    assert media_service.call("GET", path + "/Content", auth=None).status_code == 401

    temporary = requests.get(media["links"]["content_direct_temporary"], timeout=10)
    assert temporary.status_code == 200 and temporary.content == PNG


def test_multipart_upload_keeps_the_file_name_and_type(media_service: Mcs) -> None:
    media = media_service.upload_file(b"%PDF-1.4 tiny", "minutes.pdf", "application/pdf")
    assert (media["filename"], media["content_type"], media["size"]) == (
        "minutes.pdf",
        "application/pdf",
        13,
    )


def test_temporary_link_is_refused_when_altered_or_expired(
    media_service: Mcs, emulator: RunningEmulator
) -> None:
    media = media_service.upload(PNG, "image/png")
    link = urlsplit(media["links"]["content_direct_temporary"])
    assert link.path == f"{mcs.MOUNT_PATH}{mcs.TEMPORARY_PATH}/{media['sid']}"
    query = dict(pair.split("=", 1) for pair in link.query.split("&"))
    base = f"{emulator.url}{link.path}"
    altered = requests.get(
        base, params={**query, "Expires": str(int(query["Expires"]) + 1)}, timeout=10
    )
    assert altered.status_code == 403
    ContractChecker.check_error(403, altered.json())

    short = start_emulator(EmulatorSettings(media_link_lifetime=-1))
    try:
        old = Mcs(short.url, media_service.checker).upload(PNG, "image/png")
        expired = requests.get(old["links"]["content_direct_temporary"], timeout=10)
        assert expired.status_code == 403 and "expired" in expired.json()["message"]
    finally:
        short.state.close()
        short.served.stop()


def test_mcs_origin_can_be_configured_for_the_links(mcs_checker: McsChecker) -> None:
    running = start_emulator(EmulatorSettings(mcs_url="https://media.example.test/mcs"))
    try:
        media = Mcs(running.url, mcs_checker).upload(PNG, "image/png")
        link = media["links"]["content_direct_temporary"]
        assert link.startswith("https://media.example.test/mcs/temporary/ME")
    finally:
        running.state.close()
        running.served.stop()


TYPED = {"Content-Type": "application/octet-stream"}


def test_bad_uploads_get_twilio_errors(media_service: Mcs, small_emulator: Mcs) -> None:
    service_path = f"/v1/Services/{EMULATOR_SERVICE_SID}/Media"
    cases = [
        (media_service.call("POST", service_path, data=PNG, auth=("AC" + "1" * 32, "x")), 401),
        (media_service.call("POST", service_path, data=PNG, auth=None), 401),
        (media_service.call("POST", service_path, data=b"", headers={"Content-Type": "a/b"}), 400),
        (media_service.call("POST", service_path, files={"Other": ("a", b"x")}), 400),
        (media_service.call("POST", f"/v1/Services/IS{'1' * 32}/Media", data=PNG), 404),
        (media_service.call("GET", f"{service_path}/ME{'0' * 32}"), 404),
        (media_service.call("GET", f"{service_path}/not-a-sid/Content"), 404),
        (small_emulator.call("POST", service_path, data=b"x" * 1025, headers=TYPED), 413),
        (small_emulator.call("POST", service_path, files={"Media": ("a", b"x" * 2000)}), 413),
    ]
    for response, status in cases:
        assert response.status_code == status, (response.status_code, response.text)
    assert response.json()["code"] == 20001
    assert small_emulator.upload(b"x" * 1024, "text/plain")["size"] == 1024


def test_an_upload_sent_in_chunks_without_a_length_is_counted_as_it_streams(
    small_emulator: Mcs,
) -> None:
    def chunks(count: int) -> Iterator[bytes]:
        yield from (b"y" * 100 for _ in range(count))

    path = f"/v1/Services/{EMULATOR_SERVICE_SID}/Media"
    fits = small_emulator.call("POST", path, data=chunks(10), headers={"Content-Type": "a/b"})
    assert fits.status_code == 201 and fits.json()["size"] == 1000
    over = small_emulator.call("POST", path, data=chunks(20), headers={"Content-Type": "a/b"})
    assert over.status_code == 413


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.binary(max_size=1500),
    content_type=st.one_of(
        st.none(),
        st.sampled_from(["image/png", "multipart/form-data", "multipart/form-data; boundary=x"]),
        st.text(max_size=40),
    ),
    file_name=st.one_of(st.none(), st.text(max_size=40)),
    multipart=st.booleans(),
)
def test_no_upload_gets_a_server_error(
    small_emulator: Mcs,
    body: bytes,
    content_type: str | None,
    file_name: str | None,
    multipart: bool,
) -> None:
    path = f"/v1/Services/{EMULATOR_SERVICE_SID}/Media"
    headers = {}
    if content_type is not None and content_type.isprintable() and content_type.isascii():
        headers["Content-Type"] = content_type
    if multipart:
        data = {"FileName": file_name} if file_name else None
        part = (file_name or "f", body, content_type or "application/octet-stream")
        response = small_emulator.call("POST", path, files={"Media": part}, data=data)
    else:
        response = small_emulator.call("POST", path, data=body, headers=headers)
    assert response.status_code in (201, 400, 413), (response.status_code, response.text)


# -- messages with media -------------------------------------------------------------------


def test_a_media_message_lists_its_media_and_its_webhook_has_no_body(
    emulator: RunningEmulator, media_service: Mcs, receiver: WebhookReceiver
) -> None:
    api = emulator.client.conversations.v1.services(EMULATOR_SERVICE_SID)
    conv = api.conversations.create()
    api.conversations(conv.sid).participants.create(identity="alice")
    photo = media_service.upload_file(PNG, "cat.png", "image/png")
    msg = api.conversations(conv.sid).messages.create(
        author="alice", media_sid=photo["sid"], x_twilio_webhook_enabled="true"
    )
    assert msg.body is None
    assert msg.media == [
        {
            "sid": photo["sid"],
            "size": len(PNG),
            "content_type": "image/png",
            "filename": "cat.png",
            "category": "media",
        }
    ]
    attached = media_service.call("GET", photo["url"]).json()
    assert (attached["message_sid"], attached["channel_sid"]) == (msg.sid, conv.sid)

    captioned = media_service.upload(PNG, "image/png")
    api.conversations(conv.sid).messages.create(
        author="alice", body="Look", media_sid=captioned["sid"], x_twilio_webhook_enabled="true"
    )
    api.conversations(conv.sid).messages(msg.sid).update(
        attributes='{"x": 1}', x_twilio_webhook_enabled="true"
    )
    emulator.client.request(
        "DELETE",
        f"https://conversations.twilio.com/v1/Conversations/{conv.sid}/Messages/{msg.sid}",
        headers={"X-Twilio-Webhook-Enabled": "true"},
    )
    emulator.wait_idle()
    events = [h.params for h in receiver.received if "MessageSid" in h.params]
    added, with_caption, updated, removed = events
    for params in (added, updated, removed):
        assert "Body" not in params, params["EventType"]
        assert json.loads(params["Media"]) == [
            {"Sid": photo["sid"], "Filename": "cat.png", "ContentType": "image/png", "Size": 72}
        ]
    assert with_caption["Body"] == "Look"
    assert json.loads(with_caption["Media"])[0]["Filename"] is None
    assert [p["EventType"] for p in events] == [
        "onMessageAdded",
        "onMessageAdded",
        "onMessageUpdated",
        "onMessageRemoved",
    ]


def test_text_messages_have_no_media(emulator: RunningEmulator) -> None:
    api = emulator.client.conversations.v1
    conv = api.conversations.create()
    msg = api.conversations(conv.sid).messages.create(body="plain")
    assert msg.media is None


def test_media_sid_errors_are_twilios(emulator: RunningEmulator, media_service: Mcs) -> None:
    v1 = emulator.client.conversations.v1
    other_service = v1.services.create(friendly_name="Other")
    elsewhere = media_service.upload(PNG, "image/png", service=other_service.sid)
    conv = v1.conversations.create()
    messages = v1.conversations(conv.sid).messages
    for media_sid, code in [
        (elsewhere["sid"], 50507),  # another service's media does not exist here
        ("ME" + "0" * 32, 50507),
        ("not-a-media-sid", 50510),
    ]:
        error = twilio_error(messages.create, media_sid=media_sid)
        assert (error.status, error.code) == (400, code), media_sid
    once = media_service.upload(PNG, "image/png")
    messages.create(media_sid=once["sid"])
    error = twilio_error(messages.create, media_sid=once["sid"], body="again")
    assert (error.status, error.code) == (400, 50508)
    assert len(messages.list()) == 1


def test_media_survives_a_restart(tmp_path: Any, mcs_checker: McsChecker) -> None:
    path = str(tmp_path / "emulator.sqlite3")
    first = start_emulator(EmulatorSettings(persist_path=path))
    conv = first.client.conversations.v1.conversations.create()
    media = Mcs(first.url, mcs_checker).upload_file(PNG, "cat.png", "image/png")
    first.client.conversations.v1.conversations(conv.sid).messages.create(media_sid=media["sid"])
    first.state.close()
    first.served.stop()

    second = start_emulator(EmulatorSettings(persist_path=path))
    try:
        again = Mcs(second.url, mcs_checker)
        content = again.call("GET", media["links"]["content"])
        assert content.status_code == 200 and content.content == PNG
        (msg,) = second.client.conversations.v1.conversations(conv.sid).messages.list()
        assert msg.media[0]["filename"] == "cat.png"
    finally:
        second.state.close()
        second.served.stop()


def test_the_expiry_is_in_the_future_and_bounded(media_service: Mcs) -> None:
    link = media_service.upload(PNG, "image/png")["links"]["content_direct_temporary"]
    expires = int(dict(p.split("=") for p in urlsplit(link).query.split("&"))["Expires"])
    assert time.time() < expires <= time.time() + EmulatorSettings().media_link_lifetime + 1


def test_a_deleted_media_is_gone_with_its_bytes_and_links(media_service: Mcs) -> None:
    media = media_service.upload(PNG, "image/png")
    path = f"/v1/Services/{EMULATOR_SERVICE_SID}/Media/{media['sid']}"
    assert media_service.call("DELETE", path, auth=None).status_code == 401

    deleted = media_service.call("DELETE", path)
    assert deleted.status_code == 204 and deleted.content == b""
    assert media_service.call("GET", path).status_code == 404
    assert media_service.call("GET", path + "/Content").status_code == 404
    temporary = requests.get(media["links"]["content_direct_temporary"], timeout=10)
    assert temporary.status_code == 404
    again = media_service.call("DELETE", path)
    assert again.status_code == 404 and again.json()["code"] == 20404
    other = f"/v1/Services/IS{'1' * 32}/Media/{media['sid']}"
    assert media_service.call("DELETE", other).status_code == 404
