"""Who is in a conversation: Twilio's participant list, cached.

Whom to deliver an event to, and whether a user may open a conversation, both come from
Twilio's participant list, never from the browser. Fetching it for every webhook would cost a
Twilio round trip each time, so it is cached (in Redis when there is one, so every worker sees
the same list) and dropped whenever a participant webhook says it changed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Protocol

import redis

from webapp.twilio_gateway import ParticipantRecord

#: Seconds a cached list lives even without a participant webhook to drop it.
MEMBERSHIP_TTL = 300
#: Seconds a process keeps a list it read from Redis (dropped at once, in every process, when
#: any of them forgets it; see :class:`RedisMembershipCache`).
LOCAL_TTL = 10.0

Fetch = Callable[[str], list[ParticipantRecord]]


class MembershipCache(Protocol):
    def participants(self, conversation_sid: str) -> list[ParticipantRecord]: ...

    def forget(self, conversation_sid: str) -> None: ...


class InvalidationBus(Protocol):
    """How processes tell each other a list changed (the Redis broker's pub/sub channel)."""

    def live(self) -> bool:
        """True while this process would receive every invalidation (subscribed)."""

    def announce_membership_change(self, conversation_sid: str) -> None:
        """Tell every process (this one included) to drop its copy of the list."""

    def on_membership_change(self, callback: Callable[[str | None], None]) -> None:
        """Call ``callback(sid)`` for each announced change, ``callback(None)`` when changes
        may have been missed (the subscription was re-established)."""


def identities(participants: list[ParticipantRecord]) -> list[str]:
    """The chat identities among ``participants`` (SMS participants have none)."""
    return [p.identity for p in participants if p.identity]


def _strip(participants: list[ParticipantRecord]) -> list[ParticipantRecord]:
    # The read horizon changes all the time; it is never served from the cache.
    return [
        ParticipantRecord(p.sid, p.identity, p.address, last_read_message_index=None)
        for p in participants
    ]


class MemoryMembershipCache:
    """Per-process cache, for the in-process broker's single process."""

    def __init__(self, fetch: Fetch, ttl: float = MEMBERSHIP_TTL) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, list[ParticipantRecord]]] = {}

    def participants(self, conversation_sid: str) -> list[ParticipantRecord]:
        with self._lock:
            entry = self._entries.get(conversation_sid)
        if entry and entry[0] > time.monotonic():
            return entry[1]
        fresh = _strip(self._fetch(conversation_sid))
        with self._lock:
            self._entries[conversation_sid] = (time.monotonic() + self._ttl, fresh)
        return fresh

    def forget(self, conversation_sid: str) -> None:
        with self._lock:
            self._entries.pop(conversation_sid, None)


class RedisMembershipCache:
    """Cache shared by every worker through Redis; falls back to Twilio if Redis fails.

    With a ``bus``, each process also keeps the lists it read for :data:`LOCAL_TTL` seconds,
    so a webhook costs no Redis round trip for its recipients. A list is kept only while the
    bus is live, and dropped everywhere when any process forgets it (participant webhooks and
    API calls do, before they answer); a generation counter keeps a read that raced with a
    change from being stored. What remains is the window every cache has: a webhook already
    reading while another process learns of a change.
    """

    def __init__(
        self,
        fetch: Fetch,
        client: redis.Redis,
        ttl: int = MEMBERSHIP_TTL,
        bus: InvalidationBus | None = None,
        local_ttl: float = LOCAL_TTL,
    ) -> None:
        self._fetch = fetch
        self._redis = client
        self._ttl = ttl
        self._bus = bus
        self._local_ttl = local_ttl
        self._local: dict[str, tuple[float, list[ParticipantRecord]]] = {}
        self._generation = 0
        if bus is not None:
            bus.on_membership_change(self._changed)
        # The last list decoded per conversation, with the exact bytes it came from: Redis
        # stays the only source of truth (every lookup still reads it), but an unchanged
        # entry (the usual case) is not decoded again (a 1,000-member group is 1,000 records).
        self._decoded: dict[str, tuple[bytes, list[ParticipantRecord]]] = {}

    @staticmethod
    def _key(conversation_sid: str) -> str:
        return f"parley:members:{conversation_sid}"

    def _changed(self, conversation_sid: str | None) -> None:
        self._generation += 1
        if conversation_sid is None:
            self._local.clear()
        else:
            self._local.pop(conversation_sid, None)

    def participants(self, conversation_sid: str) -> list[ParticipantRecord]:
        bus = self._bus
        if bus is None or not bus.live():
            return self._shared(conversation_sid)
        entry = self._local.get(conversation_sid)
        now = time.monotonic()
        if entry is not None and entry[0] > now:
            return list(entry[1])
        generation = self._generation
        fresh = self._shared(conversation_sid)
        if generation == self._generation and bus.live():  # no change announced meanwhile
            if len(self._local) >= 10_000:
                self._local.clear()
            self._local[conversation_sid] = (now + self._local_ttl, fresh)
        return list(fresh)

    def _shared(self, conversation_sid: str) -> list[ParticipantRecord]:
        """The list from Redis (or from Twilio, then stored in Redis)."""
        try:
            cached = self._redis.get(self._key(conversation_sid))
        except redis.RedisError:
            cached = None
        if cached:
            raw = cached if isinstance(cached, bytes) else str(cached).encode()
            seen = self._decoded.get(conversation_sid)
            if seen is not None and seen[0] == raw:
                return list(seen[1])
            decoded = [ParticipantRecord(**row) for row in json.loads(raw)]
            if len(self._decoded) >= 10_000:
                self._decoded.clear()
            self._decoded[conversation_sid] = (raw, decoded)
            return list(decoded)
        fresh = _strip(self._fetch(conversation_sid))
        try:
            payload = json.dumps([asdict(p) for p in fresh])
            self._redis.set(self._key(conversation_sid), payload, ex=self._ttl)
        except redis.RedisError:
            pass
        return fresh

    def forget(self, conversation_sid: str) -> None:
        self._changed(conversation_sid)
        try:
            self._redis.delete(self._key(conversation_sid))
        except redis.RedisError:
            pass
        if self._bus is not None:
            # Every other process drops its copy; if this fails, Redis is down and their
            # subscriptions with it, which makes them drop every copy when it comes back.
            try:
                self._bus.announce_membership_change(conversation_sid)
            except redis.RedisError:
                pass
