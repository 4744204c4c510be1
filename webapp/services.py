"""The outside systems one app talks to, chosen once in ``create_app`` from the config."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask, current_app

from webapp.config import Config
from webapp.events.broker import Broker
from webapp.events.membership import MembershipCache
from webapp.events.presence import Presence, presence_for
from webapp.twilio_gateway import ConversationsGateway
from webapp.twilio_gateway.media import MediaGateway

if TYPE_CHECKING:
    from webapp.webhooks.catchup import CatchUp


@dataclass
class Services:
    config: Config
    gateway: ConversationsGateway
    broker: Broker
    membership: MembershipCache
    presence: Presence = field(init=False)
    #: Publishes messages whose webhooks never arrived (``webapp.webhooks.catchup``).
    catch_up: CatchUp = field(init=False)
    #: Photos and files, in Twilio's Media Content Service (the same config as the gateway).
    media: MediaGateway = field(init=False)

    def __post_init__(self) -> None:
        # Chosen with the broker (and sharing its Redis pool), wherever the broker is chosen.
        self.presence = presence_for(self.broker)
        from webapp.webhooks.catchup import CatchUp  # it uses the services: imported late

        self.catch_up = CatchUp(self)
        self.media = MediaGateway(self.config)


def init_services(app: Flask, services: Services) -> None:
    app.extensions["parley"] = services


def get_services() -> Services:
    """The current app's services (inside a request or app context)."""
    services: Services = current_app.extensions["parley"]
    return services
