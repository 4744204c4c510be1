"""Finding Parley's Conversations service and pointing its post-event webhook at Parley.

Used by ``flask twilio setup`` (which changes things) and ``flask twilio doctor`` (which only
reads). Each function makes one or two REST calls through the official ``twilio`` library, so
the same code works against live Twilio and the emulator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from twilio.rest import Client

from webapp.config import Config
from webapp.twilio_gateway.client import build_client
from webapp.twilio_gateway.errors import UNREACHABLE as UNREACHABLE  # for the commands
from webapp.twilio_gateway.errors import twilio_errors

#: The friendly name ``twilio setup`` looks for, and gives a service it creates.
SERVICE_NAME = "Parley"
WEBHOOK_METHOD = "POST"

FoundBy = Literal["config", "name", "created"]
T = TypeVar("T")


@dataclass(frozen=True)
class WebhookSettings:
    """A service's post-event webhook: where Twilio posts, how, and for which events."""

    url: str | None
    method: str
    filters: frozenset[str]
    pre_url: str | None = None

    def differences(self, wanted: WebhookSettings) -> list[str]:
        """What would have to change to turn ``self`` into ``wanted``, in plain words."""
        changes = []
        if self.url != wanted.url:
            changes.append(f"post-event webhook URL: {self.url or '(none)'} -> {wanted.url}")
        if self.method.upper() != wanted.method:
            changes.append(f"method: {self.method} -> {wanted.method}")
        if self.filters != wanted.filters:
            missing = ", ".join(sorted(wanted.filters - self.filters))
            extra = ", ".join(sorted(self.filters - wanted.filters))
            parts = [f"add {missing}" if missing else "", f"remove {extra}" if extra else ""]
            changes.append("filters: " + "; ".join(part for part in parts if part))
        return changes


@dataclass(frozen=True)
class SetupResult:
    service_sid: str
    found_by: FoundBy
    changes: list[str]
    webhooks: WebhookSettings


def wanted_webhooks(public_url: str, events: tuple[str, ...]) -> WebhookSettings:
    """The configuration Parley needs: its ``/twilio/webhook``, POST, exactly ``events``."""
    return WebhookSettings(
        url=public_url.rstrip("/") + "/twilio/webhook",
        method=WEBHOOK_METHOD,
        filters=frozenset(events),
    )


def _call(action: str, thunk: Callable[[], T]) -> T:
    """Run one REST call; a failure is a :class:`GatewayError` that says what was being done."""
    with twilio_errors(action):
        return thunk()


def api_key_client(config: Config) -> Client:
    """A client that authenticates with the API key, as browsers' access tokens do."""
    return Client(
        config.TWILIO_API_KEY_SID,
        config.TWILIO_API_KEY_SECRET,
        config.TWILIO_ACCOUNT_SID,
        http_client=build_client(config).http_client,
    )


def check_credentials(client: Client) -> None:
    """The cheapest authenticated call (one short page of services); raises
    :class:`GatewayError` when Twilio refuses the client's credentials."""
    _call("listing Conversations services", lambda: client.conversations.v1.services.list(limit=1))


def find_service_by_name(client: Client, name: str) -> str | None:
    """The SID of the first service called ``name``, or ``None``."""
    services = _call("listing Conversations services", client.conversations.v1.services.list)
    for service in services:
        if service.friendly_name == name:
            return str(service.sid)
    return None


def fetch_service_name(client: Client, service_sid: str) -> str:
    """The service's friendly name; raises :class:`GatewayError` (code 20404) if it is gone."""
    service = _call(
        f"fetching service {service_sid}", client.conversations.v1.services(service_sid).fetch
    )
    return str(getattr(service, "friendly_name", "") or "")


def create_service(client: Client, name: str) -> str:
    service = _call(
        "creating a Conversations service",
        lambda: client.conversations.v1.services.create(friendly_name=name),
    )
    return str(getattr(service, "sid", ""))


def read_webhooks(client: Client, service_sid: str) -> WebhookSettings:
    config = _call(
        f"reading the webhook configuration of {service_sid}",
        client.conversations.v1.services(service_sid).configuration.webhooks().fetch,
    )
    return WebhookSettings(
        url=getattr(config, "post_webhook_url", None) or None,
        method=str(getattr(config, "method", None) or WEBHOOK_METHOD),
        filters=frozenset(getattr(config, "filters", None) or ()),
        pre_url=getattr(config, "pre_webhook_url", None) or None,
    )


def write_webhooks(client: Client, service_sid: str, wanted: WebhookSettings) -> None:
    context = client.conversations.v1.services(service_sid).configuration.webhooks()
    _call(
        f"updating the webhook configuration of {service_sid}",
        lambda: context.update(
            post_webhook_url=wanted.url,
            method=wanted.method,
            filters=sorted(wanted.filters),
        ),
    )


def set_up_service(
    client: Client,
    service_sid: str | None,
    wanted: WebhookSettings,
    name: str = SERVICE_NAME,
) -> SetupResult:
    """Find (by SID, then by ``name``) or create the service, then make its webhook
    ``wanted``. Changes nothing that is already right, so a second run is a no-op."""
    found_by: FoundBy
    if service_sid:
        fetch_service_name(client, service_sid)  # fails clearly if the SID is wrong
        found_by = "config"
    elif sid := find_service_by_name(client, name):
        service_sid, found_by = sid, "name"
    else:
        service_sid, found_by = create_service(client, name), "created"
    current = read_webhooks(client, service_sid)
    changes = current.differences(wanted)
    if changes:
        write_webhooks(client, service_sid, wanted)
        current = read_webhooks(client, service_sid)
    return SetupResult(service_sid, found_by, changes, current)
