"""Who is in a conversation: Twilio's participant list, cached.

Whom to deliver an event to, and whether a user may open a conversation, both come from
Twilio's participant list, never from the browser. Fetching it for every webhook would cost a
Twilio round trip each time, so it is cached (in Redis when there is one, so every worker sees
the same list) and dropped whenever a participant webhook says it changed.

Once Twilio deletes a conversation it answers 404 for its participants, so whoever must hear
of the removal comes from the last list Parley fetched (:data:`LAST_KNOWN_TTL`), kept beside
the cache and longer than it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict
from typing import Protocol

from webapp.events.broker import LOG_MAX_AGE, BrokerUnavailable
from webapp.events.redis_cluster import RedisClient
from webapp.events.redis_errors import REDIS_ERRORS
from webapp.people.contacts import ContactsCache, MemoryContacts, RedisContacts
from webapp.twilio_gateway import GatewayError, ParticipantRecord

log = logging.getLogger(__name__)

#: Seconds a cached list lives even without a participant webhook to drop it.
MEMBERSHIP_TTL = 300
#: Seconds a process keeps a list it read from Redis (dropped at once, in every process, when
#: any of them forgets it, and all of them when its subscription comes back; see
#: :class:`RedisMembershipCache`). Changes are announced, so this only bounds how long a copy
#: outlives a list Redis itself refetched from Twilio; a fifth of :data:`MEMBERSHIP_TTL`.
#: Much shorter, and a chat whose conversations each speak less often than that reads Redis
#: for its recipients on most webhooks (7 % of a worker at 1,000 webhooks/s,
#: docs/benchmarks.md).
LOCAL_TTL = 60.0

#: Seconds Parley remembers who was in a conversation when it last fetched its list: as long
#: as a user's event log keeps events, so a removal announced once Twilio answers 404 for the
#: conversation (the cached list long expired, or lost with a restart) still reaches everyone
#: who may have it open.
LAST_KNOWN_TTL = LOG_MAX_AGE
#: Conversations whose last known members one process keeps without Redis (oldest go first).
LAST_KNOWN_MAX = 100_000

Fetch = Callable[[str], list[ParticipantRecord]]


class MembershipCache(Protocol):
    contacts: ContactsCache

    def participants(self, conversation_sid: str) -> list[ParticipantRecord]: ...

    def forget(self, conversation_sid: str) -> None: ...

    def last_known_members(self, conversation_sid: str) -> list[str]:
        """Who was in the conversation when its list was last fetched from Twilio (within
        :data:`LAST_KNOWN_TTL`), without asking Twilio: those to tell of its removal."""
        ...


class InvalidationBus(Protocol):
    """How processes tell each other a list changed (the Redis broker's channel, see
    :meth:`webapp.events.redis_broker.RedisBroker.bus`), the conversation's sid the payload."""

    def live(self) -> bool:
        """True while this process would receive every invalidation (subscribed)."""

    def announce(self, payload: str) -> None:
        """Send ``payload`` to every process (this one included); raises ``redis.RedisError``."""

    def on_message(self, handler: Callable[[str | None], None]) -> None:
        """Call ``handler(payload)`` for each message, ``handler(None)`` when messages may
        have been missed (the subscription was re-established)."""


def identities(participants: list[ParticipantRecord]) -> list[str]:
    """The chat identities among ``participants`` (SMS participants have none)."""
    return [p.identity for p in participants if p.identity]


def _strip(participants: list[ParticipantRecord]) -> list[ParticipantRecord]:
    # The read horizon changes all the time; it is never served from the cache.
    return [
        ParticipantRecord(p.sid, p.identity, p.address, last_read_message_index=None)
        for p in participants
    ]


class MemoryLastKnown:
    """The last known members of each conversation, in this process (without Redis)."""

    def __init__(self, ttl: float = LAST_KNOWN_TTL, limit: int = LAST_KNOWN_MAX) -> None:
        self._ttl = ttl
        self._limit = limit
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, tuple[str, ...]]] = OrderedDict()

    def remember(self, conversation_sid: str, members: list[str]) -> None:
        with self._lock:
            self._entries.pop(conversation_sid, None)
            self._entries[conversation_sid] = (time.monotonic() + self._ttl, tuple(members))
            while len(self._entries) > self._limit:
                self._entries.popitem(last=False)

    def members(self, conversation_sid: str) -> list[str]:
        with self._lock:
            entry = self._entries.get(conversation_sid)
        if entry is None or entry[0] <= time.monotonic():
            return []
        return list(entry[1])


def _members_now(cache: MembershipCache, conversation_sid: str) -> list[str]:
    """The members after a change (also refills the list, which callers read next anyway)."""
    try:
        return identities(cache.participants(conversation_sid))
    except GatewayError:  # e.g. the conversation was deleted: nobody is in it any more
        return []


class MemoryMembershipCache:
    """Per-process cache, for the in-process broker's single process."""

    def __init__(
        self, fetch: Fetch, ttl: float = MEMBERSHIP_TTL, contacts: ContactsCache | None = None
    ) -> None:
        self.contacts = contacts if contacts is not None else MemoryContacts()
        self._fetch = fetch
        self._ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, list[ParticipantRecord]]] = {}
        self._last_known = MemoryLastKnown()

    def participants(self, conversation_sid: str) -> list[ParticipantRecord]:
        with self._lock:
            entry = self._entries.get(conversation_sid)
        if entry and entry[0] > time.monotonic():
            return entry[1]
        fresh = _strip(self._fetch(conversation_sid))
        with self._lock:
            self._entries[conversation_sid] = (time.monotonic() + self._ttl, fresh)
        self._last_known.remember(conversation_sid, identities(fresh))
        return fresh

    def forget(self, conversation_sid: str) -> None:
        with self._lock:
            entry = self._entries.pop(conversation_sid, None)
        before = identities(entry[1]) if entry else []
        self.contacts.drop(conversation_sid, [*before, *_members_now(self, conversation_sid)])

    def last_known_members(self, conversation_sid: str) -> list[str]:
        return self._last_known.members(conversation_sid)


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
        client: RedisClient,
        ttl: int = MEMBERSHIP_TTL,
        bus: InvalidationBus | None = None,
        local_ttl: float = LOCAL_TTL,
        contacts: ContactsCache | None = None,
    ) -> None:
        self.contacts = contacts if contacts is not None else RedisContacts(client)
        self._fetch = fetch
        self._redis = client
        self._ttl = ttl
        self._bus = bus
        self._local_ttl = local_ttl
        self._local: dict[str, tuple[float, list[ParticipantRecord]]] = {}
        self._generation = 0
        if bus is not None:
            bus.on_message(self._changed)
        # The last list decoded per conversation, with the exact bytes it came from: Redis
        # stays the only source of truth (every lookup still reads it), but an unchanged
        # entry (the usual case) is not decoded again (a 1,000-member group is 1,000 records).
        self._decoded: dict[str, tuple[bytes, list[ParticipantRecord]]] = {}

    @staticmethod
    def _key(conversation_sid: str) -> str:
        return f"parley:members:{conversation_sid}"

    @staticmethod
    def _last_known_key(conversation_sid: str) -> str:
        return f"parley:lastmembers:{conversation_sid}"

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
        except REDIS_ERRORS:
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
            pipe = self._redis.pipeline(transaction=False)
            pipe.set(
                self._key(conversation_sid), json.dumps([asdict(p) for p in fresh]), ex=self._ttl
            )
            last_known = json.dumps(identities(fresh))
            pipe.set(self._last_known_key(conversation_sid), last_known, ex=LAST_KNOWN_TTL)
            pipe.execute()
        except REDIS_ERRORS:
            pass
        return fresh

    def forget(self, conversation_sid: str) -> None:
        before = self._cached_members(conversation_sid)
        self._changed(conversation_sid)
        try:
            self._redis.delete(self._key(conversation_sid))
        except REDIS_ERRORS:
            pass
        if self._bus is not None:
            # Every other process drops its copy; if this fails, Redis is down and their
            # subscriptions with it, which makes them drop every copy when it comes back.
            try:
                self._bus.announce(conversation_sid)
            except REDIS_ERRORS:
                pass
        self.contacts.drop(conversation_sid, [*before, *_members_now(self, conversation_sid)])

    def _cached_members(self, conversation_sid: str) -> list[str]:
        """The members in the cached list (Redis only, no Twilio call), before it is dropped."""
        try:
            cached = self._redis.get(self._key(conversation_sid))
        except REDIS_ERRORS:
            return []
        if not cached:
            return []
        return [row["identity"] for row in json.loads(cached) if row.get("identity")]

    def last_known_members(self, conversation_sid: str) -> list[str]:
        """Raises :class:`BrokerUnavailable` if Redis cannot say: the webhook is retried."""
        try:
            raw = self._redis.get(self._last_known_key(conversation_sid))
        except REDIS_ERRORS as exc:
            raise BrokerUnavailable(f"last known members unreadable ({exc})") from exc
        return [str(identity) for identity in json.loads(raw)] if raw else []
