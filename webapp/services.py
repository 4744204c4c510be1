"""The outside systems one app talks to, chosen once in ``create_app`` from the config."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask, current_app

# Only for the type checker (and so not an import the layer contracts see): every area reaches
# this home, which holds the objects of every area.
if TYPE_CHECKING:
    from webapp.config import Config
    from webapp.events.broker import Broker
    from webapp.people.contacts import Contacts
    from webapp.people.participants import MembershipCache
    from webapp.people.presence import Presence
    from webapp.people.presence_relay import PresenceRelay
    from webapp.twilio_gateway import ConversationsGateway
    from webapp.webhooks.catchup import CatchUp


@dataclass
class Services:
    config: Config
    gateway: ConversationsGateway
    broker: Broker
    membership: MembershipCache
    contacts: Contacts
    presence: Presence
    presence_relay: PresenceRelay
    #: Publishes messages whose webhooks never arrived (``webapp.webhooks.catchup``); it is
    #: handed these services, so it is added once they exist.
    catch_up: CatchUp = field(init=False)


def init_services(app: Flask, services: Services) -> None:
    app.extensions["parley"] = services


def get_services() -> Services:
    """The current app's services (inside a request or app context)."""
    services: Services = current_app.extensions["parley"]
    return services
