"""How one emulator instance is configured (re-exported as `twilio_emulator.EmulatorSettings`)."""

from __future__ import annotations

from dataclasses import dataclass

from twilio_emulator.credentials import (
    EMULATOR_ACCOUNT_SID,
    EMULATOR_API_KEY_SECRET,
    EMULATOR_API_KEY_SID,
    EMULATOR_AUTH_TOKEN,
    EMULATOR_SERVICE_SID,
)

POST_EVENTS: tuple[str, ...] = (
    "onMessageAdded",
    "onMessageUpdated",
    "onMessageRemoved",
    "onConversationAdded",
    "onConversationUpdated",
    "onConversationRemoved",
    "onParticipantAdded",
    "onParticipantUpdated",
    "onParticipantRemoved",
    "onDeliveryUpdated",
)


@dataclass(frozen=True)
class EmulatorSettings:
    """Credentials, the pre-configured post-event webhook, delivery tuning, persistence.

    `webhook_retries` and `webhook_retry_delay` keep failed deliveries bounded and quick: the
    emulator serves development and tests, where a dead receiver should not stall the queue
    for long. `persist_path` names a SQLite file that keeps the store across restarts (None:
    memory only); `post_webhook_url`, when set, still wins over the saved one, so a Parley
    started on another address gets its webhooks.

    `mcs_url` is the origin of this emulator's Media Content Service, Twilio's
    `https://mcs.us1.twilio.com` (served at `/mcs` below the emulator's own address); None
    takes the address each request came in on. Its signed temporary links point there and
    live `media_link_lifetime` seconds. `media_max_bytes` is MCS's limit per file.
    """

    account_sid: str = EMULATOR_ACCOUNT_SID
    auth_token: str = EMULATOR_AUTH_TOKEN
    service_sid: str = EMULATOR_SERVICE_SID
    api_key_sid: str = EMULATOR_API_KEY_SID
    api_key_secret: str = EMULATOR_API_KEY_SECRET
    post_webhook_url: str | None = None
    post_webhook_filters: tuple[str, ...] = POST_EVENTS
    webhook_timeout: float = 5.0
    webhook_retries: int = 2
    webhook_retry_delay: float = 0.25
    persist_path: str | None = None
    mcs_url: str | None = None
    media_max_bytes: int = 150 * 1024 * 1024
    media_link_lifetime: float = 300.0
