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
from collections.abc import Callable, Collection, Iterable
from dataclasses import asdict
from typing import Protocol

import redis

from webapp.events.broker import LOG_MAX_AGE, BrokerUnavailable
from webapp.events.redis_broker import Frame
from webapp.twilio_gateway import GatewayError, ParticipantRecord

log = logging.getLogger(__name__)

#: Seconds a cached list lives even without a participant webhook to drop it.
MEMBERSHIP_TTL = 300
#: Seconds a process keeps a list it read from Redis (dropped at once, in every process, when
#: any of them forgets it; see :class:`RedisMembershipCache`).
LOCAL_TTL = 10.0

#: Seconds Parley remembers who was in a conversation when it last fetched its list: as long
#: as a user's event log keeps events, so a removal announced once Twilio answers 404 for the
#: conversation (the cached list long expired, or lost with a restart) still reaches everyone
#: who may have it open.
LAST_KNOWN_TTL = LOG_MAX_AGE
#: Conversations whose last known members one process keeps without Redis (oldest go first).
LAST_KNOWN_MAX = 100_000

#: Seconds a user's cached contacts live (see :class:`ContactsCache`): bounds how stale they
#: can be if an invalidation is missed (Redis down while a participant changed).
CONTACTS_TTL = 300

Fetch = Callable[[str], list[ParticipantRecord]]


class ContactsCache(Protocol):
    """Each user's contacts (who shares a conversation with them), cached.

    Computing them costs a Twilio call (the user's conversations), and every user coming
    online or opening a page needs them: after a deploy every browser reconnects at once, and
    without this cache that was one Twilio call per user per worker. Entries are dropped for
    every member of a conversation, before and after the change, whenever its participant
    list is forgotten (see :meth:`MembershipCache.forget`), and expire after
    :data:`CONTACTS_TTL` seconds anyway. A drop also bumps each member's generation, and
    contacts computed while theirs moved are not kept (they may predate the change).
    """

    def get(self, identity: str) -> tuple[set[str] | None, int]:
        """The cached contacts of ``identity`` (or None: compute them, then :meth:`put`), and
        the generation to give :meth:`put`."""

    def put(
        self, identity: str, contacts: Collection[str], conversations: list[str], generation: int
    ) -> None:
        """Keep ``contacts``, computed from ``conversations`` (the sids ``identity`` is in),
        unless a drop of ``identity`` happened since :meth:`get` returned ``generation``."""

    def drop(self, conversation_sid: str, members: Iterable[str]) -> None:
        """Drop the entries that used ``conversation_sid``, and those of ``members``."""


class MembershipCache(Protocol):
    contacts: ContactsCache

    def participants(self, conversation_sid: str) -> list[ParticipantRecord]: ...

    def forget(self, conversation_sid: str) -> None: ...

    def last_known_members(self, conversation_sid: str) -> list[str]:
        """Who was in the conversation when its list was last fetched from Twilio (within
        :data:`LAST_KNOWN_TTL`), without asking Twilio: those to tell of its removal."""
        ...


class InvalidationBus(Protocol):
    """How processes tell each other a list changed: :attr:`Frame.MEMBERSHIP` frames on the
    Redis broker's pub/sub channel, the conversation's sid their payload."""

    def live(self) -> bool:
        """True while this process would receive every invalidation (subscribed)."""

    def announce(self, kind: Frame, payload: str) -> None:
        """Send a frame to every process (this one included)."""

    def on_frame(self, kind: Frame, handler: Callable[[str | None], None]) -> None:
        """Call ``handler(payload)`` for each frame of ``kind``, ``handler(None)`` when frames
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


class MemoryContacts:
    """Contacts per user in this process (the in-process broker's single process)."""

    def __init__(self, ttl: float = CONTACTS_TTL) -> None:
        self._ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, frozenset[str]]] = {}
        self._users_of: dict[str, set[str]] = {}  # conversation sid -> whose entries used it
        self._generations: dict[str, int] = {}  # per user: drops so far

    def get(self, identity: str) -> tuple[set[str] | None, int]:
        with self._lock:
            entry = self._entries.get(identity)
            generation = self._generations.get(identity, 0)
        if entry is None or entry[0] <= time.monotonic():
            return None, generation
        return set(entry[1]), generation

    def put(
        self, identity: str, contacts: Collection[str], conversations: list[str], generation: int
    ) -> None:
        with self._lock:
            if generation != self._generations.get(identity, 0):
                return
            if len(self._entries) >= 100_000 or len(self._generations) >= 100_000:
                self._entries.clear()
                self._users_of.clear()
                self._generations.clear()
            self._entries[identity] = (time.monotonic() + self._ttl, frozenset(contacts))
            for sid in conversations:
                self._users_of.setdefault(sid, set()).add(identity)

    def drop(self, conversation_sid: str, members: Iterable[str]) -> None:
        with self._lock:
            for identity in self._users_of.pop(conversation_sid, set()) | set(members):
                self._entries.pop(identity, None)
                self._generations[identity] = self._generations.get(identity, 0) + 1


# KEYS: the user's generation, the user's entry, the users-of index of each conversation.
# ARGV: generation seen, ttl, entry, identity. Stores nothing if a drop happened since.
_PUT_CONTACTS = """
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[2])
for i = 3, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[4])
  redis.call('EXPIRE', KEYS[i], ARGV[2])
end
return 1
"""


class RedisContacts:
    """Contacts per user in Redis, shared by every worker and dyno, and kept across deploys
    (so the reconnect burst after one costs no Twilio call). Uses the given (pooled) client.
    Redis errors fall back to computing the contacts; a missed drop is bounded by the TTL."""

    def __init__(self, client: redis.Redis, ttl: int = CONTACTS_TTL) -> None:
        self._redis = client
        self._ttl = ttl
        self._put = client.register_script(_PUT_CONTACTS)

    # Each key kind has its own fixed prefix before the identity, which may be any string:
    # with ``parley:contacts:<identity>`` the user ``gen:alice`` would read alice's generation.
    @staticmethod
    def _key(identity: str) -> str:
        return f"parley:contacts:of:{identity}"

    @staticmethod
    def _generation_key(identity: str) -> str:
        return f"parley:contacts:gen:{identity}"

    @staticmethod
    def _users_key(conversation_sid: str) -> str:
        return f"parley:contacts:by:{conversation_sid}"

    def get(self, identity: str) -> tuple[set[str] | None, int]:
        try:
            raw, generation = self._redis.mget(
                [self._key(identity), self._generation_key(identity)]
            )
        except redis.RedisError:
            return None, -1  # -1: never matches, so nothing is kept while Redis fails
        seen = int(generation or 0)
        if raw is None:
            return None, seen
        return set(json.loads(raw)), seen

    def put(
        self, identity: str, contacts: Collection[str], conversations: list[str], generation: int
    ) -> None:
        keys = [self._generation_key(identity), self._key(identity)]
        keys += [self._users_key(sid) for sid in conversations]
        try:
            args: list[str | int] = [generation, self._ttl, json.dumps(sorted(contacts)), identity]
            self._put(keys=keys, args=args)
        except redis.RedisError as exc:
            log.warning("contacts not cached (%s)", exc.__class__.__name__)

    def drop(self, conversation_sid: str, members: Iterable[str]) -> None:
        try:
            users = {_text(u) for u in self._redis.smembers(self._users_key(conversation_sid))}
            pipe = self._redis.pipeline(transaction=False)
            for identity in users | set(members):
                # The generation first: a lookup of theirs under way is then not kept.
                pipe.incr(self._generation_key(identity))
                pipe.expire(self._generation_key(identity), self._ttl)
                pipe.delete(self._key(identity))
            pipe.delete(self._users_key(conversation_sid))
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("contacts not dropped (%s); they expire", exc.__class__.__name__)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


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
        client: redis.Redis,
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
            bus.on_frame(Frame.MEMBERSHIP, self._changed)
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
            pipe = self._redis.pipeline(transaction=False)
            pipe.set(
                self._key(conversation_sid), json.dumps([asdict(p) for p in fresh]), ex=self._ttl
            )
            last_known = json.dumps(identities(fresh))
            pipe.set(self._last_known_key(conversation_sid), last_known, ex=LAST_KNOWN_TTL)
            pipe.execute()
        except redis.RedisError:
            pass
        return fresh

    def forget(self, conversation_sid: str) -> None:
        before = self._cached_members(conversation_sid)
        self._changed(conversation_sid)
        try:
            self._redis.delete(self._key(conversation_sid))
        except redis.RedisError:
            pass
        if self._bus is not None:
            # Every other process drops its copy; if this fails, Redis is down and their
            # subscriptions with it, which makes them drop every copy when it comes back.
            try:
                self._bus.announce(Frame.MEMBERSHIP, conversation_sid)
            except redis.RedisError:
                pass
        self.contacts.drop(conversation_sid, [*before, *_members_now(self, conversation_sid)])

    def _cached_members(self, conversation_sid: str) -> list[str]:
        """The members in the cached list (Redis only, no Twilio call), before it is dropped."""
        try:
            cached = self._redis.get(self._key(conversation_sid))
        except redis.RedisError:
            return []
        if not cached:
            return []
        return [row["identity"] for row in json.loads(cached) if row.get("identity")]

    def last_known_members(self, conversation_sid: str) -> list[str]:
        """Raises :class:`BrokerUnavailable` if Redis cannot say: the webhook is retried."""
        try:
            raw = self._redis.get(self._last_known_key(conversation_sid))
        except redis.RedisError as exc:
            raise BrokerUnavailable(f"last known members unreadable ({exc})") from exc
        return [str(identity) for identity in json.loads(raw)] if raw else []
