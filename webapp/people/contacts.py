"""Whose contacts: everyone who shares a (small enough) conversation with a user.

Presence goes to a user's contacts only, and the page asks who among them is online. Working
them out costs a Twilio call (the user's conversations), so they are cached per user (in Redis
when there is one) and dropped whenever a conversation of theirs changes.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable
from typing import Protocol

from redis.utils import str_if_bytes

from webapp.events.redis_cluster import RedisClient, is_cluster
from webapp.events.redis_errors import REDIS_ERRORS
from webapp.twilio_gateway import ConversationRecord, ParticipantRecord

log = logging.getLogger(__name__)

#: Seconds a user's cached contacts live (see :class:`ContactsCache`): bounds how stale they
#: can be if an invalidation is missed (Redis down while a participant changed).
CONTACTS_TTL = 300


class ContactsCache(Protocol):
    """Each user's contacts (who shares a conversation with them), cached.

    Computing them costs a Twilio call (the user's conversations), and every user coming
    online or opening a page needs them: after a deploy every browser reconnects at once, and
    without this cache that would be one Twilio call per user per worker. Entries are dropped for
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


# KEYS: the user's generation, the user's entry (one slot: the user's).
# ARGV: generation seen, ttl, entry. Stores nothing if a drop happened since.
_PUT_CONTACTS = """
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[2])
return 1
"""


class RedisContacts:
    """Contacts per user in Redis, shared by every worker and dyno, and kept across deploys
    (so the reconnect burst after one costs no Twilio call). Uses the given (pooled) client.
    Redis errors fall back to computing the contacts; a missed drop is bounded by the TTL.

    On a cluster a user's entry and generation share the user's slot (``{identity}``) and
    each conversation's users-of index lives in the conversation's; on one Redis the keys
    keep the names deployed Parleys wrote.
    """

    def __init__(self, client: RedisClient, ttl: int = CONTACTS_TTL) -> None:
        self._redis = client
        self._ttl = ttl
        self._put = client.register_script(_PUT_CONTACTS)
        self._tag = _hash_tag if is_cluster(client) else _as_is

    # Each key kind has its own fixed prefix before the identity, which may be any string:
    # with ``parley:contacts:<identity>`` the user ``gen:alice`` would read alice's generation.
    def _key(self, identity: str) -> str:
        return f"parley:contacts:of:{self._tag(identity)}"

    def _generation_key(self, identity: str) -> str:
        return f"parley:contacts:gen:{self._tag(identity)}"

    def _users_key(self, conversation_sid: str) -> str:
        return f"parley:contacts:by:{self._tag(conversation_sid)}"

    def get(self, identity: str) -> tuple[set[str] | None, int]:
        try:
            raw, generation = self._redis.mget(
                [self._key(identity), self._generation_key(identity)]
            )
        except REDIS_ERRORS:
            return None, -1  # -1: never matches, so nothing is kept while Redis fails
        seen = int(generation or 0)
        if raw is None:
            return None, seen
        return set(json.loads(raw)), seen

    def put(
        self, identity: str, contacts: Collection[str], conversations: list[str], generation: int
    ) -> None:
        """The users-of indexes first, the entry after (only if no drop came since): a drop
        between the two finds the user in the index and bumps their generation, so the entry
        is not kept. The indexes live in other slots than the entry on a cluster, which is why
        this is two steps rather than one script."""
        try:
            if conversations:
                pipe = self._redis.pipeline(transaction=False)
                for sid in conversations:
                    pipe.sadd(self._users_key(sid), identity)
                    pipe.expire(self._users_key(sid), self._ttl)
                pipe.execute()
            keys = [self._generation_key(identity), self._key(identity)]
            args: list[str | int] = [generation, self._ttl, json.dumps(sorted(contacts))]
            self._put(keys=keys, args=args)
        except REDIS_ERRORS as exc:
            log.warning("contacts not cached (%s)", exc.__class__.__name__)

    def drop(self, conversation_sid: str, members: Iterable[str]) -> None:
        try:
            rows = self._redis.smembers(self._users_key(conversation_sid))
            users = {str_if_bytes(row) for row in rows}
            pipe = self._redis.pipeline(transaction=False)
            for identity in users | set(members):
                # The generation first: a lookup of theirs under way is then not kept.
                pipe.incr(self._generation_key(identity))
                pipe.expire(self._generation_key(identity), self._ttl)
                pipe.delete(self._key(identity))
            pipe.delete(self._users_key(conversation_sid))
            pipe.execute()
        except REDIS_ERRORS as exc:
            log.warning("contacts not dropped (%s); they expire", exc.__class__.__name__)


def _hash_tag(name: str) -> str:
    """``{name}``: on a cluster, the keys of one user (or conversation) share its slot."""
    return "{" + name + "}"


def _as_is(name: str) -> str:
    return name


#: Presence is shared through conversations of at most this many people: in a larger group
#: each arrival would fan out to every member's streams (a 1,000-member group: a million
#: offers as its members come online), for a dot nobody looks at in so large a crowd.
PRESENCE_MAX_GROUP = 100


class Contacts:
    """Answers "whose contacts": one per app, handed the Twilio lookups it needs."""

    def __init__(
        self,
        cache: ContactsCache,
        conversations_of: Callable[[str], list[ConversationRecord]],
        participants: Callable[[str], list[ParticipantRecord]],
    ) -> None:
        """``conversations_of`` is the gateway's (a user's conversations); ``participants``
        the membership cache's (a conversation's participants, cached)."""
        self.cache = cache
        self._conversations_of = conversations_of
        self._participants = participants

    def of(self, identity: str) -> set[str]:
        """Everyone who shares a conversation (of at most :data:`PRESENCE_MAX_GROUP` people)
        with ``identity``, not ``identity``."""
        cached, generation = self.cache.get(identity)
        if cached is not None:
            return cached
        conversations = self._conversations_of(identity)
        people: set[str] = set()
        for conversation in conversations:
            members = [p.identity for p in self._participants(conversation.sid) if p.identity]
            if len(members) <= PRESENCE_MAX_GROUP:
                people.update(members)
        people.discard(identity)
        self.cache.put(identity, people, [c.sid for c in conversations], generation)
        return people
