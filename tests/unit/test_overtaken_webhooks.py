"""A webhook that overtakes the one before it (Twilio sends them concurrently) waits a moment
for it to be heard of, instead of asking Twilio's history for a message on its way."""

from __future__ import annotations

import uuid

import pytest

from webapp import create_app
from webapp.config import Config
from webapp.events.published_index import InOrder, OutOfOrder
from webapp.events.types import Event
from webapp.services import Services
from webapp.twilio_gateway import GatewayError


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


def _refused(services: Services, sid: str, index: int) -> OutOfOrder:
    with pytest.raises(OutOfOrder) as refused:
        services.broker.publish(
            Event("message_added", {}), ["bob"], f"{sid}:{index}", InOrder(sid, index)
        )
    return refused.value


def test_a_message_overtaken_by_the_next_one_is_waited_for_not_fetched(services: Services) -> None:
    sid = f"CH{uuid.uuid4().hex}"
    assert services.broker.publish(Event("message_added", {}), ["bob"], f"{sid}:0", InOrder(sid, 0))
    gap = _refused(services, sid, 2)  # message 2's webhook came first ...
    assert gap.mark == (0, 0)
    services.published.note(sid, 1, f"{sid}:1", True)  # ... then 1's
    assert services.catch_up.fill(InOrder(sid, 2), gap.mark)  # Twilio was not asked


def test_a_message_nobody_tells_of_is_fetched_from_twilio(services: Services) -> None:
    sid = f"CH{uuid.uuid4().hex}"
    assert services.broker.publish(Event("message_added", {}), ["bob"], f"{sid}:0", InOrder(sid, 0))
    gap = _refused(services, sid, 2)
    with pytest.raises(GatewayError):  # 1 never came: Twilio's history is asked
        services.catch_up.fill(InOrder(sid, 2), gap.mark)
