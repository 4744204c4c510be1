"""Who is online: a user is online while at least one of their streams is open, anywhere.

Two implementations behind one small interface, chosen with the broker: a counter in memory
(one process), or Redis. With Redis each process keeps, per user with a stream open here, an
entry that expires: a sorted set per user (member: the process's token, score: when its entry
expires) and one sorted set of every online user (score: the latest expiry of any of their
entries). A process refreshes its entries on a ticker; when it crashes, they simply expire,
and the next sweep (by any process) reports the user offline. Times are Redis's own (``TIME``),
so dynos with skewed clocks agree.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Collection, Iterable
from typing import Any, Protocol

from redis.utils import str_if_bytes

from webapp.events.errand import Errand
from webapp.events.redis_cluster import RedisClient, is_cluster
from webapp.events.redis_errors import REDIS_ERRORS

log = logging.getLogger(__name__)

#: Seconds a process's presence entry lives without a refresh (a crashed worker's users go
#: offline within this); refreshed every :data:`PRESENCE_TICK` seconds.
PRESENCE_TTL = 45
PRESENCE_TICK = 5.0
#: Identities refreshed per Redis script (a slice costs Redis about a millisecond).
REFRESH_SLICE = 250

# Lua helpers. "now" is Redis's clock in milliseconds. Every key a script touches is in its
# KEYS: the set of online users first, then each user's entries, in the order of the
# identities in ARGV (on a cluster they all share one slot, see :class:`PresenceKeys`).
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""
# KEYS: all, user_1, ...  ARGV: token, ttl_ms, identity_1, ...
# Returns the identities that were offline until now.
_TOUCH = (
    _NOW
    + """
local expires = now + tonumber(ARGV[2])
local came = {}
for i = 3, #ARGV do
  local who = ARGV[i]
  local key = KEYS[i - 1]
  local was = redis.call('ZSCORE', KEYS[1], who)
  redis.call('ZADD', key, expires, ARGV[1])
  redis.call('PEXPIRE', key, ARGV[2])
  if not was or tonumber(was) < now then came[#came + 1] = who end
  if not was or tonumber(was) < expires then redis.call('ZADD', KEYS[1], expires, who) end
end
return came
"""
)
# Drop expired entries of the users in ``due`` (their keys: KEYS[1 + i]); those left with
# none are offline now.
_SETTLE = """
local gone = {}
for i, who in ipairs(due) do
  local key = KEYS[i + 1]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local top = redis.call('ZREVRANGE', key, 0, 0, 'WITHSCORES')
  if #top == 0 then
    if redis.call('ZREM', KEYS[1], who) == 1 then gone[#gone + 1] = who end
  else
    redis.call('ZADD', KEYS[1], top[2], who)
  end
end
return gone
"""
# KEYS: all, the user's entries. ARGV: token, identity.
# Returns {identity} when that was the user's last entry anywhere.
_LEAVE = (
    _NOW
    + """
redis.call('ZREM', KEYS[2], ARGV[1])
local due = {ARGV[2]}
"""
    + _SETTLE
)
# KEYS: all. ARGV: limit. The users whose every entry may have expired (crashed processes):
# :data:`_SETTLE_DUE` then settles them with their keys declared.
_DUE = (
    _NOW
    + """
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[1])
"""
)
# KEYS: all, user_1, ...  ARGV: identity_1, ...  Returns those offline now.
_SETTLE_DUE = (
    _NOW
    + """
local due = ARGV
"""
    + _SETTLE
)
# KEYS: all. ARGV: identities. Returns those online now.
_ONLINE = (
    _NOW
    + """
local online = {}
for i = 1, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) >= now then online[#online + 1] = ARGV[i] end
end
return online
"""
)


class PresenceKeys:
    """Where presence lives in Redis. On one Redis: ``parley:presence:all`` and
    ``parley:presence:u:{<identity>}`` (the names deployed Parleys use). On a cluster, a
    script's keys must share a slot, and every script touches the set of online users, so
    all presence keys carry one hash tag: ``{parley:presence}:all`` and
    ``{parley:presence}:u:<identity>``. That puts presence on one shard: a few dozen bytes
    and one small script per online user's arrival, departure and refresh (docs/scaling.md).
    """

    def __init__(self, cluster: bool) -> None:
        self.cluster = cluster
        self.all = "{parley:presence}:all" if cluster else "parley:presence:all"

    def user(self, identity: str) -> str:
        if self.cluster:
            return "{parley:presence}:u:" + identity
        return "parley:presence:u:{" + identity + "}"

    def with_users(self, identities: Iterable[str]) -> list[str]:
        """The set of online users, then each of ``identities``' entries: a script's KEYS."""
        return [self.all, *(self.user(identity) for identity in identities)]


class Presence(Protocol):
    """What the stream and the API need to know about who is online."""

    def connecting(self, identity: str, came: Callable[[], None]) -> Errand | None:
        """A stream of ``identity`` is opening here: it counts from now on. ``came()`` is
        called when they were offline everywhere, at once or once the returned errand (for
        the broker to carry with the opening's read of the log) has its reply."""

    def connected(self, identity: str) -> bool:
        """A stream of ``identity`` opened here; True when they were offline everywhere."""

    def abandoned(self, identity: str) -> bool:
        """An opening :meth:`connecting` counted failed (Redis out of reach): it counts no
        more, without waiting on Redis again. True when they are offline now."""

    def disconnected(self, identity: str) -> bool:
        """A stream of ``identity`` closed here; True when it was their last one anywhere."""

    def online(self, identities: Collection[str]) -> set[str]:
        """Those of ``identities`` who are online now."""

    def refresh(self) -> list[str]:
        """Keep this process's entries alive; the users found offline since (whose entries
        expired: a crashed process's users)."""


class StreamCounts:
    """This process's open streams per user: only a user's first stream and last close here
    can change their presence, so only those reach the shared store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, int] = {}

    def opened(self, identity: str) -> bool:
        """Count one more stream; True when it is ``identity``'s first in this process."""
        with self._lock:
            count = self._streams.get(identity, 0)
            self._streams[identity] = count + 1
            return count == 0

    def closed(self, identity: str) -> bool:
        """Count one stream less; True when it was ``identity``'s last in this process."""
        with self._lock:
            count = self._streams.get(identity, 0) - 1
            if count > 0:
                self._streams[identity] = count
                return False
            return self._streams.pop(identity, None) is not None

    def identities(self) -> list[str]:
        with self._lock:
            return list(self._streams)

    def __contains__(self, identity: object) -> bool:
        return identity in self._streams


class MemoryPresence:
    """One process: a count of open streams per user."""

    def __init__(self) -> None:
        self._streams = StreamCounts()

    def connecting(self, identity: str, came: Callable[[], None]) -> Errand | None:
        if self._streams.opened(identity):
            came()
        return None

    def connected(self, identity: str) -> bool:
        return self._streams.opened(identity)

    def abandoned(self, identity: str) -> bool:
        return self.disconnected(identity)

    def disconnected(self, identity: str) -> bool:
        return self._streams.closed(identity)

    def online(self, identities: Collection[str]) -> set[str]:
        return {i for i in identities if i in self._streams}

    def refresh(self) -> list[str]:
        return []


class RedisPresence:
    """Every process and dyno on one Redis (or one cluster); uses the broker's pooled client
    (no new connections). Redis errors never end a stream: presence is then briefly stale."""

    def __init__(self, client: RedisClient, ttl: float = PRESENCE_TTL) -> None:
        self._redis = client
        self._ttl_ms = int(ttl * 1000)
        self.keys = PresenceKeys(is_cluster(client))
        self.token = secrets.token_hex(8)  # this process's member in each user's set
        self._streams = StreamCounts()
        self._touch = client.register_script(_TOUCH)
        self._leave = client.register_script(_LEAVE)
        self._due = client.register_script(_DUE)
        self._settle = client.register_script(_SETTLE_DUE)
        self._online = client.register_script(_ONLINE)

    def connecting(self, identity: str, came: Callable[[], None]) -> Errand | None:
        """Only a user's first stream here touches Redis: their entry, sent with the opening's
        read of the log."""
        if not self._streams.opened(identity):
            return None

        def done(reply: Any) -> None:
            if isinstance(reply, Exception):
                log.warning("presence not recorded (%s)", reply.__class__.__name__)
            elif reply:
                came()

        keys = self.keys.with_users([identity])
        return Errand(self._touch, keys, [self.token, self._ttl_ms, identity], done)

    def connected(self, identity: str) -> bool:
        came: list[bool] = []
        errand = self.connecting(identity, lambda: came.append(True))
        if errand is not None:
            errand.run()
        return bool(came)

    def abandoned(self, identity: str) -> bool:
        """Counted off here only: an entry the failed opening may have made expires (as a
        crashed process's do), and the sweep that finds it gone reports the user offline."""
        self._streams.closed(identity)
        return False

    def disconnected(self, identity: str) -> bool:
        if not self._streams.closed(identity):
            return False
        try:
            return bool(
                self._leave(keys=self.keys.with_users([identity]), args=[self.token, identity])
            )
        except REDIS_ERRORS as exc:
            log.warning("presence not cleared (%s); it expires", exc.__class__.__name__)
            return False

    def online(self, identities: Collection[str]) -> set[str]:
        if not identities:
            return set()
        try:
            found = self._online(keys=[self.keys.all], args=list(identities))
        except REDIS_ERRORS as exc:
            log.warning("presence unknown (%s)", exc.__class__.__name__)
            return set()
        return {str_if_bytes(i) for i in found}

    def refresh(self) -> list[str]:
        local = self._streams.identities()
        try:
            # In slices, yielding between them: one script over 10,000 identities held Redis
            # (and one pooled connection) long enough to delay every webhook behind it.
            for start in range(0, len(local), REFRESH_SLICE):
                chunk = local[start : start + REFRESH_SLICE]
                self._touch(
                    keys=self.keys.with_users(chunk), args=[self.token, self._ttl_ms, *chunk]
                )
                time.sleep(0)  # gevent.sleep(0) once patched: let webhooks and streams run
            gone = self._sweep()
        except REDIS_ERRORS as exc:
            log.warning("presence not refreshed (%s)", exc.__class__.__name__)
            return []
        return [str_if_bytes(i) for i in gone]

    def _sweep(self, limit: int = 1000) -> list[bytes]:
        """Settle the users whose entries all look expired, in two scripts so that the second
        declares their keys: one who came back in between is found online and kept."""
        due = [str_if_bytes(who) for who in self._due(keys=[self.keys.all], args=[limit])]
        if not due:
            return []
        return list(self._settle(keys=self.keys.with_users(due), args=due))
