"""A webhook that overtakes the one before it (Twilio sends them concurrently) is published at
once and its conversation looked at again later: it never waits for the other webhook, and
Twilio's history is asked only if a message is still missing then."""

from __future__ import annotations

import logging
import uuid

import pytest

from webapp import create_app
from webapp.config import Config
from webapp.events.published_index import InOrder, OutOfOrder
from webapp.events.types import Event
from webapp.services import Services
from webapp.twilio_gateway import GatewayError
from webapp.webhooks.catchup import OVERTAKEN_MAX


@pytest.fixture
def services() -> Services:
    """Parley's services with the in-process broker, and a Twilio that cannot be reached:
    any question to its history fails."""
    config = Config.from_env(
        {
            "SECRET_KEY": "k",
            "DATABASE_URL": "sqlite://",
            "TWILIO_AUTH_TOKEN": "t",
            "TWILIO_EMULATOR_URL": "http://127.0.0.1:1",
        },
        require_service_sid=False,
    )
    built: Services = create_app(config).extensions["parley"]
    return built


def _publish(services: Services, sid: str, index: int, strict: bool = True) -> bool:
    return services.broker.publish(
        Event("message_added", {}), ["bob"], f"{sid}:{index}", InOrder(sid, index, strict)
    )


def _overtaking(services: Services, sid: str, index: int) -> None:
    """Message ``index``'s webhook, with messages before it not heard of: refused, then
    published at once (Twilio is not asked: it would fail here)."""
    with pytest.raises(OutOfOrder) as refused:
        _publish(services, sid, index)
    assert services.catch_up.fill(InOrder(sid, index), refused.value.mark)
    assert _publish(services, sid, index, strict=False)


def test_an_overtaking_message_is_published_at_once_and_twilio_is_not_asked(
    services: Services,
) -> None:
    sid = f"CH{uuid.uuid4().hex}"
    assert _publish(services, sid, 0)
    _overtaking(services, sid, 2)  # message 2's webhook came first ...
    assert _publish(services, sid, 1)  # ... then 1's, before the check
    assert services.catch_up.check_gap(sid, 2) == 0  # nothing missing: Twilio never asked
    assert services.published.note(sid, 3, None, False).published == 2


def test_a_message_still_missing_at_the_check_is_asked_of_twilio(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    sid = f"CH{uuid.uuid4().hex}"
    assert _publish(services, sid, 0)
    _overtaking(services, sid, 3)
    with caplog.at_level(logging.WARNING, logger="webapp.webhooks.catchup"):
        # 1 and 2 never come: the check asks Twilio (unreachable here) and will look again.
        assert services.catch_up.check_gap(sid, 3) is None
    assert any("not checked" in r.getMessage() for r in caplog.records), caplog.text


def test_a_longer_gap_asks_twilio_inside_the_webhook(services: Services) -> None:
    sid = f"CH{uuid.uuid4().hex}"
    assert _publish(services, sid, 0)
    index = OVERTAKEN_MAX + 2
    with pytest.raises(OutOfOrder) as refused:
        _publish(services, sid, index)
    with pytest.raises(GatewayError):  # Twilio's history is asked now, to publish in order
        services.catch_up.fill(InOrder(sid, index), refused.value.mark)
