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

Fetch = Callable[[str], list[ParticipantRecord]]


class MembershipCache(Protocol):
    def participants(self, conversation_sid: str) -> list[ParticipantRecord]: ...

    def forget(self, conversation_sid: str) -> None: ...


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
    """Cache shared by every worker through Redis; falls back to Twilio if Redis fails."""

    def __init__(self, fetch: Fetch, client: redis.Redis, ttl: int = MEMBERSHIP_TTL) -> None:
        self._fetch = fetch
        self._redis = client
        self._ttl = ttl
        # The last list decoded per conversation, with the exact bytes it came from: Redis
        # stays the only source of truth (every lookup still reads it), but an unchanged
        # entry (the usual case) is not decoded again (a 1,000-member group is 1,000 records).
        self._decoded: dict[str, tuple[bytes, list[ParticipantRecord]]] = {}

    @staticmethod
    def _key(conversation_sid: str) -> str:
        return f"parley:members:{conversation_sid}"

    def participants(self, conversation_sid: str) -> list[ParticipantRecord]:
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
        try:
            self._redis.delete(self._key(conversation_sid))
        except redis.RedisError:
            pass
