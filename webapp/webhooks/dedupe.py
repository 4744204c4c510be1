"""Twilio retries webhooks, so one event can arrive twice: deliver it to browsers once.

A delivery is identified by the event itself: every parameter Twilio sent except
``RetryCount``, which is all that changes between retries. A new message is identified by
its ``MessageSid`` alone, so that the catch-up (``webapp.webhooks.catchup``), which publishes
messages from Twilio's history whose webhooks never arrived, and a late webhook for one of
them publish it once between them. (Twilio's
``I-Twilio-Idempotency-Token`` header is the same on every retry too, but a sender that
omits it, or a replay of the same event, must be caught as well.)

The webhook passes ``delivery_key(params)`` (plus the index of each event it produces) to
``Broker.publish(..., once=key)``, which claims, publishes and remembers it in one atomic
step (one Lua call on Redis): a failed publish leaves nothing to release, and a retry after a
partial failure publishes only the events still missing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

#: Parameters that differ between retries of one event.
_PER_ATTEMPT = {"RetryCount"}


def message_added_key(message_sid: str) -> str:
    """The key of a new message's event, however Parley learns of it."""
    return f"added:{message_sid}"


def delivery_key(params: Mapping[str, str]) -> str:
    """A short, stable key for one event, the same for each of Twilio's retries of it."""
    if params.get("EventType") == "onMessageAdded" and params.get("MessageSid"):
        return message_added_key(params["MessageSid"])
    # "name\0value\0" for each name in order, hashed. The key must not change from one
    # release to the next: a retry of Twilio's may reach a worker of the next deploy.
    text = "".join(f"{name}\0{params[name]}\0" for name in sorted(set(params) - _PER_ATTEMPT))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
