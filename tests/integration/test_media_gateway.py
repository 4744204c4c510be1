"""The MCS seam against the emulator over HTTP: an upload streamed from a file-like, its
resource, its bytes through the temporary link and through the ``content`` path, and Twilio's
refusals as :class:`GatewayError`."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.support.servers import Served
from twilio_emulator import EmulatorSettings, create_emulator_app
from webapp.config import Config
from webapp.twilio_gateway import GatewayError
from webapp.twilio_gateway.media import MediaGateway, UploadCut


@pytest.fixture
def media() -> Iterator[MediaGateway]:
    served = Served(create_emulator_app(EmulatorSettings(post_webhook_url=None)))
    try:
        yield MediaGateway(Config.from_env({"TWILIO_EMULATOR_URL": served.url}))
    finally:
        served.stop()


def test_an_upload_comes_back_through_either_link(media: MediaGateway) -> None:
    data = b"minutes of the meeting\n" * 5000
    uploaded = media.upload(io.BytesIO(data), len(data), "text/plain", 'notes "final".txt')
    assert (uploaded.size, uploaded.content_type) == (len(data), "text/plain")
    assert uploaded.filename == 'notes "final".txt'
    fetched = media.fetch(uploaded.sid)
    assert fetched.conversation_sid is None and fetched.message_sid is None
    assert b"".join(media.content(fetched)) == data
    without_signed_link = replace(fetched, temporary_link=None)
    assert b"".join(media.content(without_signed_link)) == data


def test_a_source_that_ends_early_uploads_nothing(media: MediaGateway) -> None:
    with pytest.raises(UploadCut):
        media.upload(io.BytesIO(b"half"), 1000, "text/plain", None)


def test_twilios_refusals_are_gateway_errors(media: MediaGateway) -> None:
    with pytest.raises(GatewayError) as missing:
        media.fetch("ME" + "0" * 32)
    assert missing.value.not_found and missing.value.code == 20404
