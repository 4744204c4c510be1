"""The outside systems one app talks to, chosen once in ``create_app`` from the config."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from webapp.config import Config
from webapp.events.broker import Broker
from webapp.events.membership import MembershipCache
from webapp.twilio_gateway import ConversationsGateway


@dataclass
class Services:
    config: Config
    gateway: ConversationsGateway
    broker: Broker
    membership: MembershipCache


def init_services(app: Flask, services: Services) -> None:
    app.extensions["parley"] = services


def get_services() -> Services:
    """The current app's services (inside a request or app context)."""
    services: Services = current_app.extensions["parley"]
    return services
