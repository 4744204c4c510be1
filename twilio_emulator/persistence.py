"""Optional persistence: the store's snapshot in one row of a SQLite file.

Why a whole snapshot per change rather than a table per resource: the emulator serves one
developer's history (thousands of messages, not millions), a snapshot is written in one
transaction so the file is never half-updated, and restore cannot disagree with the in-memory
indexes. The cost is a JSON dump per change, a few milliseconds at that size.

One emulator process owns a file; two emulators sharing one would overwrite each other.
Webhooks still queued when the process stops are not saved.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS emulator_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    saved_at TEXT NOT NULL,
    state TEXT NOT NULL
)
"""


class SnapshotFile:
    """Reads and writes the single saved snapshot; safe to call from any thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            raise FileNotFoundError(f"No such directory for the emulator state: {self.path.parent}")
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        with self._db:
            self._db.execute(SCHEMA)

    def load(self) -> dict[str, Any] | None:
        """The saved snapshot, or None for a new file."""
        with self._lock:
            row = self._db.execute("SELECT state FROM emulator_state WHERE id = 1").fetchone()
        return json.loads(row[0]) if row else None

    def save(self, snapshot: dict[str, Any]) -> None:
        state = json.dumps(snapshot, separators=(",", ":"))
        saved_at = datetime.now(UTC).isoformat()
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO emulator_state (id, saved_at, state) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE "
                "SET saved_at = excluded.saved_at, state = excluded.state",
                (saved_at, state),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
