"""What Parley accepts as a file, what it lets a browser show inline, and how it names phones'
channels and their delivery failures."""

from __future__ import annotations

import pytest

from webapp.api.media_types import clean_filename, matches_label, shown_inline


@pytest.mark.parametrize(
    ("content_type", "head", "fits"),
    [
        ("image/png", b"\x89PNG\r\n\x1a\n\x00\x00", True),
        ("image/png", b"<svg onload=alert(1)>", False),
        ("image/jpeg", b"\xff\xd8\xff\xe0", True),
        ("image/gif", b"GIF89a\x01\x00", True),
        ("image/webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ", True),
        ("image/webp", b"RIFF\x00\x00\x00\x00WAVEfmt ", False),
        ("application/pdf", b"%PDF-1.7", True),
        ("application/pdf", b"<html>", False),
        ("text/plain", b"anything at all", True),
    ],
)
def test_a_label_must_fit_the_first_bytes(content_type: str, head: bytes, fits: bool) -> None:
    assert matches_label(content_type, head) is fits


def test_only_raster_images_are_shown_inline() -> None:
    assert shown_inline("image/png") and shown_inline("image/webp")
    for kind in ("image/svg+xml", "text/html", "application/pdf", "text/plain"):
        assert not shown_inline(kind)


def test_file_names_keep_their_last_segment_and_lose_what_breaks_headers() -> None:
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("C:\\Users\\me\\photo.png") == "photo.png"
    assert clean_filename('a"b\r\nc.txt') == "abc.txt"
    assert clean_filename("résumé.pdf") == "résumé.pdf"
    assert clean_filename("x" * 400) == "x" * 255
    assert (
        clean_filename("") is None and clean_filename("/") is None and clean_filename(None) is None
    )


def test_whatsapp_authors_have_their_own_source() -> None:
    from webapp.presenters import message_source

    assert message_source("+15551234567") == "SMS"
    assert message_source("whatsapp:+15551234567") == "WHATSAPP"
    assert message_source("whatsapp:alice") == "CHAT"
    assert message_source("alice") == message_source(None) == "CHAT"


def test_a_failed_delivery_says_why_in_words() -> None:
    from webapp.presenters import delivery_json

    failed = delivery_json("CH1", "IM1", None, "undelivered", 30003)
    assert failed["reason"] == "the phone is switched off or out of reach"
    assert delivery_json("CH1", "IM1", None, "failed", 12345)["reason"] == "Twilio error 12345"
    assert delivery_json("CH1", "IM1", None, "failed", None)["reason"] == "not delivered"
    assert delivery_json("CH1", "IM1", None, "delivered", None)["reason"] is None


def test_whatsapp_outside_its_24_hour_window_is_said_in_words() -> None:
    from webapp.presenters import delivery_json

    delivery = delivery_json("CH" + "0" * 32, "IM" + "0" * 32, None, "failed", 63016)
    assert "24 hours" in delivery["reason"] and delivery["error_code"] == 63016
