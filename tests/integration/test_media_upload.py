"""Photos and files sent from the page: uploaded through Parley (streamed to the emulator's
MCS over HTTP), sent with a message, heard live, and served back to the conversation's
participants only; every bad upload is a 4xx and leaves nothing in the conversation."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.test_media_intake import PNG, upload
from tests.integration.test_sms_groups import (
    add_phone,
    new_phone,
    outbox,
    remove_phone,
    start_group,
)
from tests.support.clients import ApiClient, StreamReader
from tests.support.servers import ParleyServer
from tests.support.waiting import wait_until

PDF = b"%PDF-1.4\n%minutes\n" + b"0" * 200
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.fixture
def parley_server(sms_parley_server: ParleyServer) -> ParleyServer:
    """Parley with a Twilio number, so a group can hold a phone."""
    return sms_parley_server


def upload_file(
    client: ApiClient, sid: str, data: bytes, content_type: str, filename: str | None = None
) -> requests.Response:
    """What the page's XMLHttpRequest sends: the file as the body, its name in the query."""
    return client.session.post(
        f"{client.base_url}/api/conversations/{sid}/media",
        data=data,
        params={"filename": filename} if filename else None,
        headers={"Content-Type": content_type, "X-CSRFToken": client.csrf_token},
        timeout=10,
    )


def uploaded(client: ApiClient, sid: str, data: bytes, content_type: str, name: str) -> str:
    answer = upload_file(client, sid, data, content_type, name)
    assert answer.status_code == 201, answer.text
    media_sid: str = answer.json()["media"]["sid"]
    return media_sid


def raw_upload(client: ApiClient, sid: str, data: bytes, announced: int) -> bytes:
    """An upload announcing ``announced`` bytes that sends only ``data``, then the answer."""
    parts = urlsplit(client.base_url)
    cookie = "; ".join(f"{c.name}={c.value}" for c in client.session.cookies)
    head = (
        f"POST /api/conversations/{sid}/media?filename=half.png HTTP/1.1\r\n"
        f"Host: {parts.netloc}\r\nCookie: {cookie}\r\nX-CSRFToken: {client.csrf_token}\r\n"
        f"Content-Type: image/png\r\nContent-Length: {announced}\r\n\r\n"
    ).encode()
    answer = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head + data)
        sock.shutdown(socket.SHUT_WR)
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def history(client: ApiClient, sid: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = client.get(f"/api/conversations/{sid}/messages").json()[
        "messages"
    ]
    return messages


def test_a_photo_is_sent_heard_live_and_served_to_members_only(
    login: Any, parley_server: ParleyServer
) -> None:
    alice, bob, carol = login("alice"), login("bob"), login("carol")
    sid = start_group(alice, ["bob"])
    stream = StreamReader(bob, bob.stream_cursor())

    answer = upload_file(alice, sid, PNG, "image/png", "screenshot.png")
    assert answer.status_code == 201, answer.text
    media = answer.json()["media"]
    assert media["filename"] == "screenshot.png" and media["size"] == len(PNG)
    assert media["content_type"] == "image/png" and media["sid"].startswith("ME")
    sent = alice.post(f"/api/conversations/{sid}/messages", {"media_sids": [media["sid"]]})
    assert sent.status_code == 201, sent.text
    assert sent.json()["message"]["body"] == ""

    got = stream.wait_for("message_added", lambda d: d["message"]["media"])
    assert got.data["message"]["media"] == [media]
    stream.close()

    served = bob.get(f"/api/media/{media['sid']}")
    assert served.status_code == 200 and served.content == PNG
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Disposition"].startswith("inline")
    assert served.headers["Cache-Control"].startswith("private")
    assert "twilio" not in served.text.lower()
    gone = carol.get(f"/api/media/{media['sid']}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert carol.get("/api/media/ME" + "0" * 32).status_code == 404
    assert carol.get("/api/media/nonsense").status_code == 404


def test_a_caption_and_several_files_go_in_one_message(
    login: Any, parley_server: ParleyServer
) -> None:
    alice, bob = login("alice"), login("bob")
    sid = start_group(alice, ["bob"])
    first = uploaded(alice, sid, PNG, "image/png", "a.png")
    second = uploaded(alice, sid, PDF, "application/pdf", "minutes.pdf")
    sent = alice.post(
        f"/api/conversations/{sid}/messages", {"body": "Look", "media_sids": [first, second]}
    )
    assert sent.status_code == 201, sent.text
    message = sent.json()["message"]
    assert message["body"] == "Look"
    assert [m["sid"] for m in message["media"]] == [first, second]
    pdf = bob.get(f"/api/media/{second}")
    assert pdf.status_code == 200 and pdf.content == PDF
    assert pdf.headers["Content-Disposition"].startswith("attachment")


def test_svg_and_html_are_never_served_inline(login: Any, parley_server: ParleyServer) -> None:
    alice, bob = login("alice"), login("bob")
    sid = start_group(alice, ["bob"])
    svg = uploaded(alice, sid, SVG, "image/svg+xml", "logo.svg")
    assert alice.post(f"/api/conversations/{sid}/messages", {"media_sids": [svg]}).ok
    served = bob.get(f"/api/media/{svg}")
    assert served.status_code == 200
    assert served.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in served.headers["Content-Security-Policy"]
    # From a phone or another client, anything may arrive: HTML too is a download.
    html = upload(parley_server, b"<h1>hi</h1>", "page.html", "text/html")
    assert (
        alice.post(f"/api/conversations/{sid}/messages", {"media_sids": [html]}).status_code == 400
    )


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b"", "image/png", 400, "empty_file"),
        (b"<script>alert(1)</script>", "image/png", 415, "mislabelled_file"),
        (b"GIF89a" + b"0" * 20, "image/jpeg", 415, "mislabelled_file"),
        (b"plain text", "application/pdf", 415, "mislabelled_file"),
        (b"<h1>hi</h1>", "text/html", 415, "unsupported_file_type"),
        (b"MZ\x90\x00", "application/x-msdownload", 415, "unsupported_file_type"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_sent(
    login: Any, parley_server: ParleyServer, data: bytes, content_type: str, status: int, code: str
) -> None:
    alice = login("alice")
    sid = start_group(alice, ["bob"])
    answer = upload_file(alice, sid, data, content_type, "x")
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["message"]
    assert history(alice, sid) == []


def test_a_file_over_the_limit_is_refused_from_its_length(
    login: Any, parley_server: ParleyServer
) -> None:
    alice = login("alice")
    sid = start_group(alice, ["bob"])
    answer = raw_upload(alice, sid, PNG, announced=200 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"file_too_large" in answer
    assert history(alice, sid) == []


def test_an_upload_cut_halfway_is_refused_and_nothing_is_kept(
    login: Any, parley_server: ParleyServer
) -> None:
    alice = login("alice")
    sid = start_group(alice, ["bob"])
    # The sender stops halfway and says so (half-closes); it still reads the answer.
    answer = raw_upload(alice, sid, PNG + b"\x00" * 200_000, announced=1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"upload_incomplete" in answer
    assert history(alice, sid) == []


def test_a_file_of_someone_else_or_another_conversation_cannot_be_sent(
    login: Any, parley_server: ParleyServer
) -> None:
    alice, bob = login("alice"), login("bob")
    sid = start_group(alice, ["bob"])
    other = start_group(alice, ["carol"])
    bobs = uploaded(bob, sid, PNG, "image/png", "bob.png")
    elsewhere = uploaded(alice, other, PNG, "image/png", "other.png")
    for media_sids in ([bobs], [elsewhere], ["ME" + "1" * 32], ["nonsense"], "ME1", [5]):
        answer = alice.post(f"/api/conversations/{sid}/messages", {"media_sids": media_sids})
        assert answer.status_code == 400, (media_sids, answer.text)
    mine = uploaded(alice, sid, PNG, "image/png", "mine.png")
    too_many = alice.post(f"/api/conversations/{sid}/messages", {"media_sids": [mine] * 11})
    assert too_many.status_code == 400
    assert alice.post(f"/api/conversations/{sid}/messages", {"media_sids": [mine]}).ok
    again = alice.post(f"/api/conversations/{sid}/messages", {"media_sids": [mine]})
    assert again.status_code == 400 and again.json()["error"]["code"] == "unknown_media"
    assert len(history(alice, sid)) == 1
    # Before it is sent, a file is its uploader's alone.
    assert bob.get(f"/api/media/{elsewhere}").status_code == 404
    assert alice.get(f"/api/media/{elsewhere}").status_code == 200


def test_an_outsider_cannot_upload_into_a_conversation(
    login: Any, parley_server: ParleyServer
) -> None:
    alice, carol = login("alice"), login("carol")
    sid = start_group(alice, ["bob"])
    assert upload_file(carol, sid, PNG, "image/png").status_code == 404
    assert upload_file(carol, "CH" + "0" * 32, PNG, "image/png").status_code == 404


def test_a_phone_in_the_group_gets_the_photo_as_mms(
    login: Any, parley_server: ParleyServer
) -> None:
    alice = login("alice")
    sid = start_group(alice, ["bob"])
    phone = new_phone()
    assert add_phone(alice, sid, phone).status_code == 201
    media = uploaded(alice, sid, PNG, "image/png", "photo.png")
    assert alice.post(f"/api/conversations/{sid}/messages", {"media_sids": [media]}).ok

    def delivered() -> dict[str, Any] | None:
        return next((e for e in outbox(parley_server) if e.get("to") == phone), None)

    entry = wait_until(delivered, 10, "the MMS in the outbox")
    assert "photo.png" in str(entry)


_CONTENT_TYPES = st.sampled_from(
    ["image/png", "image/jpeg", "image/svg+xml", "text/plain", "application/pdf", "text/html"]
) | st.text(max_size=40)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=64), content_type=_CONTENT_TYPES, filename=st.text(max_size=80))
def test_no_upload_gets_a_5xx(
    login: Any, parley_server: ParleyServer, data: bytes, content_type: str, filename: str
) -> None:
    alice = login("alice")
    sid = start_group(alice, ["bob"])
    try:
        answer = upload_file(alice, sid, data, content_type, filename)
    except (ValueError, UnicodeError):  # a header requests itself refuses to send
        return
    assert answer.status_code < 500, answer.text
    if answer.status_code == 201:
        assert answer.json()["media"]["size"] == len(data)


def test_each_phone_delivery_is_heard_live_with_the_reason_in_words(
    login: Any, parley_server: ParleyServer
) -> None:
    alice, bob = login("alice"), login("bob")
    sid = start_group(alice, ["bob"])
    phone, failing = new_phone(), "+15550030006"  # a magic number: fails with 30006
    for number in (phone, failing):
        assert add_phone(alice, sid, number).status_code == 201
    stream = StreamReader(bob, bob.stream_cursor())
    sent = alice.send(sid, "Are you there?")
    assert sent.status_code == 201, sent.text
    message_sid = sent.json()["message"]["sid"]

    seen: dict[tuple[str, str], dict[str, Any]] = {}

    def both_final() -> bool:
        got = stream.wait_for("delivery_updated", lambda d: d["message_sid"] == message_sid)
        seen[(got.data["address"], got.data["status"])] = got.data
        return {(phone, "delivered"), (failing, "undelivered")} <= set(seen)

    wait_until(both_final, 10, "both phones' final receipts")
    assert seen[(phone, "delivered")]["reason"] is None
    failed = seen[(failing, "undelivered")]
    assert failed["error_code"] == 30006
    assert failed["reason"] == "the number is a landline or cannot take texts"
    (loaded,) = [m for m in history(bob, sid) if m["sid"] == message_sid]
    assert loaded["delivery"]["total"] == 2
    assert (loaded["delivery"]["delivered"], loaded["delivery"]["undelivered"]) == ("some", "some")
    stream.close()
    assert remove_phone(alice, sid, failing).status_code in (200, 204)
