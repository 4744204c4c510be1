"""Server-Sent Events framing (the text format ``EventSource`` reads)."""

from __future__ import annotations

import json
from typing import Any

from webapp.events.types import EventId

#: Milliseconds a browser waits before reconnecting.
RETRY_MS = 2000


def frame(event: str, data: str, event_id: EventId | None = None) -> str:
    """One SSE message. ``data`` must be a single line (JSON without newlines is)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


def control(event: str, payload: dict[str, Any], event_id: EventId | None = None) -> str:
    return frame(event, json.dumps(payload, separators=(",", ":")), event_id)


def comment(text: str) -> str:
    return f": {text}\n\n"


def retry(ms: int = RETRY_MS) -> str:
    return f"retry: {ms}\n\n"


def closing(reconnect_ms: int | None = None, why: str = "closed") -> str:
    """What a stream ends with. ``reconnect_ms`` (a worker exiting, see
    ``writer.reconnect_delays``, or an opening turned away, see ``admission.py``) asks the
    client to wait that long before reconnecting: ``retry:`` for EventSource itself, and a
    ``reconnect`` event for the page, which reconnects by itself with its own back-off
    otherwise. ``why`` is the last comment (``busy``: turned away)."""
    if reconnect_ms is None:
        return retry() + comment(why)
    return control("reconnect", {"after_ms": reconnect_ms}) + retry(reconnect_ms) + comment(why)
