"""What one emulator instance holds; stored at `app.extensions["twilio_emulator"]`."""

from __future__ import annotations

from twilio_emulator.media_files import MediaFiles
from twilio_emulator.persistence import SnapshotFile
from twilio_emulator.settings import EmulatorSettings
from twilio_emulator.store import Store
from twilio_emulator.webhooks import WebhookDispatcher


class EmulatorState:
    """The settings, the store, the webhook dispatcher the store publishes to, the media
    files, and (with `settings.persist_path`) the SQLite file the store is reloaded from and
    saved to."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self.webhooks = WebhookDispatcher(settings)
        self.store = Store(settings, self.webhooks)
        self.snapshots: SnapshotFile | None = None
        if settings.persist_path:
            self.snapshots = SnapshotFile(settings.persist_path)
            saved = self.snapshots.load()
            if saved is not None:
                keep_url = settings.post_webhook_url is not None
                self.store.restore(saved, keep_post_webhook_url=keep_url)
            snapshots = self.snapshots
            self.store.on_change = lambda: snapshots.save(self.store.snapshot())
        self.media_files = MediaFiles(settings.persist_path)

    def wait_idle(self, timeout: float) -> bool:
        """True once every webhook queued so far has been delivered or given up on."""
        return self.webhooks.wait_idle(timeout)

    def close(self) -> None:
        self.webhooks.close()
        self.media_files.close()
        if self.snapshots is not None:
            self.store.on_change = None
            self.snapshots.close()
