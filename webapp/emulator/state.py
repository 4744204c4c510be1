"""What one emulator instance holds; stored at `app.extensions["twilio_emulator"]`."""

from __future__ import annotations

from webapp.emulator.settings import EmulatorSettings
from webapp.emulator.store import Store
from webapp.emulator.webhooks import WebhookDispatcher


class EmulatorState:
    """The settings, the store, and the webhook dispatcher the store publishes to."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self.webhooks = WebhookDispatcher(settings)
        self.store = Store(settings, self.webhooks.publish)

    def wait_idle(self, timeout: float) -> bool:
        """True once every webhook queued so far has been delivered or given up on."""
        return self.webhooks.wait_idle(timeout)

    def close(self) -> None:
        self.webhooks.close()
