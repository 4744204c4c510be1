"""The outside systems one app talks to, chosen once in ``create_app`` from the config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app

from webapp.config import Config
from webapp.events.broker import Broker
from webapp.events.membership import MembershipCache
from webapp.twilio_gateway import ConversationsGateway

if TYPE_CHECKING:  # webhooks import this module; only the type is needed here
    from webapp.webhooks.dedupe import WebhookLedger


@dataclass
class Services:
    config: Config
    gateway: ConversationsGateway
    broker: Broker
    membership: MembershipCache
    webhook_ledger: WebhookLedger


def init_services(app: Flask, services: Services) -> None:
    app.extensions["parley"] = services


def get_services() -> Services:
    """The current app's services (inside a request or app context)."""
    services: Services = current_app.extensions["parley"]
    return services
