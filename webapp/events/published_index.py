"""Per conversation, how far Parley has published its messages: the "mark".

The per-user logs only hold what Parley was told. When Parley or its Redis was down longer
than Twilio retries a webhook, a message never reaches them, and no event id can show it.
Twilio keeps every message, so Parley remembers, per conversation, the message ``Index`` up
to which every message was published (or no longer exists in Twilio), and compares it with
what a webhook or Twilio's history says (``webapp.webhooks.catchup``).

The mark moves only over what was really published: each ``onMessageAdded`` webhook leaves
the de-duplication key its message is published under (``note``), and the next webhook's
``note`` moves the mark over the indexes whose key exists in the broker (written by the
publish itself, atomically). A webhook answered 503 whose retries all failed therefore
leaves the mark behind it, and the next message, or a reconcile, fills the hole. A message
whose webhook arrived less than :data:`IN_FLIGHT_SECONDS` ago counts as heard: Twilio
delivers webhooks concurrently, so the next one often overtakes it, and its own request is
publishing it (a Twilio call per overtaking would be the price otherwise).

Bounded: one small entry per conversation, expiring :data:`MARK_SECONDS` after its last
webhook, and a list of recently active conversations capped at :data:`RECENT_MAX`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple, Protocol

import redis

from webapp.events.broker import LOG_MAX_AGE
from webapp.events.redis_errors import translated

#: A conversation's mark lives this long after its last webhook: a log's window, since what
#: is older than every log cannot reach a page anyway.
MARK_SECONDS = LOG_MAX_AGE
#: Conversations remembered as recently active (the reconcile's work list), newest kept.
RECENT_MAX = 10_000
#: How far one ``note`` walks the mark forward over confirmed publishes (normally one step).
WALK_MAX = 1000
#: A webhook this recent is still being handled (Twilio waits 5 s for an answer).
IN_FLIGHT_SECONDS = 10.0


class Mark(NamedTuple):
    """Where a conversation stands: every message up to ``published`` was published (or is
    gone from Twilio); every one up to ``heard`` was, or its webhook is being handled now."""

    published: int
    heard: int


class InOrder(NamedTuple):
    """Publish message ``message_index`` of ``conversation_sid`` in its order (``Broker.publish``):
    note it first (the publish's ``once`` key confirms it to the next note), and, when
    ``strict``, publish nothing while a message before it is neither published nor heard of
    (:class:`OutOfOrder` is raised instead: those are caught up on first)."""

    conversation_sid: str
    message_index: int
    strict: bool = True


class OutOfOrder(Exception):
    """A strict :class:`InOrder` publish found messages missing before it; nothing was
    published. ``mark`` says where the conversation stands."""

    def __init__(self, mark: Mark) -> None:
        super().__init__(f"messages missing after {mark.published}")
        self.mark = mark


class PublishedIndex(Protocol):
    """The marks, shared by every process (Redis) or this process's own (in memory). Any
    method may raise :class:`BrokerUnavailable` (Redis down or busy)."""

    def note(self, conversation_sid: str, index: int, once: str | None, touch: bool) -> Mark:
        """The mark of ``conversation_sid``, first moved over the messages below ``index``
        whose publish is confirmed. ``once``: the de-duplication key message ``index`` is
        about to be published under (it confirms that publish to the next ``note``).
        ``touch``: count this as activity (a webhook), for :meth:`recent`. A conversation
        without a mark starts at ``index - 1``: what happened before Parley knew it is not
        Parley's to catch up."""

    def advance(self, conversation_sid: str, index: int) -> None:
        """Every message up to ``index`` is published now (a catch-up published them)."""

    def recent(self) -> list[str]:
        """Conversations with a webhook within the marks' window (:data:`MARK_SECONDS` unless
        set otherwise), the latest first."""

    def forget(self, conversation_sid: str) -> None:
        """Stop tracking a conversation (Twilio no longer knows it)."""

    def now(self) -> float:
        """The store's clock (seconds), shared by every process using it."""

    def claim(self, conversation_sid: str, since: float) -> bool:
        """Take ``conversation_sid`` for a reconcile, unless a reconcile of it started at or
        after ``since`` (a :meth:`now` reading): that one saw everything sent before."""


class MemoryPublishedIndex:
    """The marks of the in-process broker's one process; ``published(once)`` asks the broker
    whether a de-duplication key was used."""

    def __init__(
        self,
        published: Callable[[str], bool],
        recent_max: int = RECENT_MAX,
        in_flight: float = IN_FLIGHT_SECONDS,
        window: float = MARK_SECONDS,
    ) -> None:
        self._published = published
        self._window = window
        self._recent_max = recent_max
        self._in_flight = in_flight
        self._lock = threading.Lock()
        self._marks: dict[str, int] = {}
        self._pending: dict[str, dict[int, tuple[str, float]]] = {}  # index -> key, when
        self._active: OrderedDict[str, float] = OrderedDict()  # oldest activity first
        self._checked: dict[str, float] = {}

    def note(self, conversation_sid: str, index: int, once: str | None, touch: bool) -> Mark:
        now = time.monotonic()
        with self._lock:
            if touch:
                self._touch(conversation_sid, now)
            pending = self._pending.setdefault(conversation_sid, {})
            mark = self._marks.get(conversation_sid, index - 1)
            limit = mark + WALK_MAX
            while mark + 1 < index and mark < limit:
                entry = pending.get(mark + 1)
                if entry is None or not self._published(entry[0]):
                    break
                del pending[mark + 1]
                mark += 1
            self._marks[conversation_sid] = mark
            heard = mark
            while heard + 1 < index and heard < limit:
                entry = pending.get(heard + 1)
                if entry is None or entry[1] <= now - self._in_flight:
                    break
                heard += 1
            if once is not None and index > mark:
                pending[index] = (once, now)
            return Mark(mark, heard)

    def _touch(self, conversation_sid: str, now: float) -> None:
        self._active[conversation_sid] = now
        self._active.move_to_end(conversation_sid)
        horizon = now - self._window
        while self._active and (
            len(self._active) > self._recent_max or next(iter(self._active.values())) < horizon
        ):
            gone, _ = self._active.popitem(last=False)
            self._marks.pop(gone, None)
            self._pending.pop(gone, None)
            self._checked.pop(gone, None)

    def advance(self, conversation_sid: str, index: int) -> None:
        with self._lock:
            mark = max(self._marks.get(conversation_sid, index), index)
            self._marks[conversation_sid] = mark
            pending = self._pending.get(conversation_sid, {})
            for stale in [i for i in pending if i <= mark]:
                del pending[stale]

    def recent(self) -> list[str]:
        with self._lock:
            return list(reversed(self._active))

    def forget(self, conversation_sid: str) -> None:
        with self._lock:
            for table in (self._active, self._marks, self._pending, self._checked):
                table.pop(conversation_sid, None)

    def now(self) -> float:
        return time.monotonic()

    def claim(self, conversation_sid: str, since: float) -> bool:
        with self._lock:
            if self._checked.get(conversation_sid, -1.0) >= since:
                return False
            self._checked[conversation_sid] = time.monotonic()
            return True


_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# The note, as a Lua function, so that the broker's publish can run it in the same call
# (``RedisBroker.publish`` with ``in_order``). Arguments: the conversation's hash (field
# "mark"; "p:<index>" = the key the message at that index is published under, "t:<index>" =
# when its webhook came), the recent-activity sorted set, sid, index, once key ('' for none),
# touch ('1'/'0'), ttl, window ms, recent max, walk max, in-flight ms. Returns mark, heard.
NOTE_FUNCTION = """
local function note_mark(key, recent, sid, n, once, touch, ttl, window, recent_max, walk, in_flight)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if touch == '1' and recent ~= '' then
    redis.call('ZADD', recent, now, sid)
    redis.call('ZREMRANGEBYSCORE', recent, '-inf', now - window)
    local extra = redis.call('ZCARD', recent) - recent_max
    if extra > 0 then redis.call('ZREMRANGEBYRANK', recent, 0, extra - 1) end
  end
  local mark = tonumber(redis.call('HGET', key, 'mark'))
  if not mark then
    mark = n - 1
  else
    local limit = mark + walk
    while mark + 1 < n and mark < limit do
      local field = 'p:' .. (mark + 1)
      local published = redis.call('HGET', key, field)
      if not published or redis.call('EXISTS', published) == 0 then break end
      redis.call('HDEL', key, field, 't:' .. (mark + 1))
      mark = mark + 1
    end
  end
  redis.call('HSET', key, 'mark', mark)
  local heard = mark
  local horizon = now - in_flight
  while heard + 1 < n and heard < mark + walk do
    local at = tonumber(redis.call('HGET', key, 't:' .. (heard + 1)))
    if not at or at <= horizon then break end
    heard = heard + 1
  end
  if once ~= '' and n > mark then
    redis.call('HSET', key, 'p:' .. n, once, 't:' .. n, now)
  end
  redis.call('EXPIRE', key, ttl)
  return mark, heard
end
"""

# KEYS: the conversation's hash, the recent-activity sorted set. ARGV: as note_mark's after
# its keys. Returns {published, heard}.
_NOTE = (
    NOTE_FUNCTION
    + """
local mark, heard = note_mark(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4],
  ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]))
return {mark, heard}
"""
)

# On a cluster, the conversation's hash and the recent-activity set live in different slots:
# the note runs on the hash alone (KEYS[1]; ARGV as _NOTE's), the touch on the set (_TOUCH).
_NOTE_ALONE = (
    NOTE_FUNCTION
    + """
local mark, heard = note_mark(KEYS[1], '', ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4],
  ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]))
return {mark, heard}
"""
)

# KEYS: the recent-activity sorted set. ARGV: sid, window ms, recent max.
_TOUCH = (
    _NOW
    + """
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3])
if extra > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, extra - 1) end
"""
)

# KEYS: the conversation's hash. ARGV: index, ttl. The mark moves up to index (never back),
# and the keys remembered for indexes it passed are dropped.
_ADVANCE = """
local mark = math.max(tonumber(redis.call('HGET', KEYS[1], 'mark') or ARGV[1]), tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'mark', mark)
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if field ~= 'mark' and tonumber(string.sub(field, 3)) <= mark then
    redis.call('HDEL', KEYS[1], field)
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return mark
"""

# KEYS: the conversation's last-reconcile key. ARGV: since (ms), ttl.
_CLAIM = (
    _NOW
    + """
local at = tonumber(redis.call('GET', KEYS[1]))
if at and at >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], now, 'EX', ARGV[2])
return 1
"""
)

RECENT_KEY = "parley:catchup:recent"


def _mark_key(conversation_sid: str) -> str:
    return f"parley:catchup:{{{conversation_sid}}}"


def confirm_key(conversation_sid: str, once: str) -> str:
    """On a cluster, where a message's publish under ``once`` is confirmed for the note: in
    its conversation's slot, beside the mark (the note's walk reads it)."""
    return f"parley:webhook:{{{conversation_sid}}}:{once}"


def _checked_key(conversation_sid: str) -> str:
    return f"parley:catchup:{{{conversation_sid}}}:checked"


class RedisPublishedIndex:
    """The marks in Redis, shared by every worker and dyno (the broker's command pool).
    ``redis_key(once)`` names the key the broker keeps a de-duplication key under.
    Redis errors are raised as the broker raises them (:mod:`.redis_errors`)."""

    def __init__(
        self,
        client: redis.Redis,
        redis_key: Callable[[str], str],
        in_flight: float = IN_FLIGHT_SECONDS,
        window: int = MARK_SECONDS,
        cluster: bool = False,
    ) -> None:
        """``window``: seconds a mark lives after its conversation's last webhook (the
        per-user logs' age: what is older than every log cannot reach a page anyway).
        ``cluster``: ``client`` is a Redis Cluster's (the note and the touch are two
        scripts, each in its own slot)."""
        self._redis = client
        self._cluster = cluster
        self._note_alone = client.register_script(_NOTE_ALONE)
        self._touch = client.register_script(_TOUCH)
        self._window = window
        self._redis_key = redis_key
        self._in_flight_ms = int(in_flight * 1000)
        self._note = client.register_script(_NOTE)
        self._advance = client.register_script(_ADVANCE)
        self._claim = client.register_script(_CLAIM)

    def lua_note(self, sid: str, index: str, once: str, touch: str) -> str:
        """A Lua call of :data:`NOTE_FUNCTION` for a script that embeds it (the broker's
        publish: one round trip for both), the arguments that never change baked into the
        text (sending them with each call costs a webhook about 3 % of its CPU). ``sid``,
        ``index``, ``once`` and ``touch`` are Lua expressions; the mark's key is derived
        from ``sid`` as :func:`_mark_key` names it."""
        return (
            f"note_mark('parley:catchup:{{' .. {sid} .. '}}', '{RECENT_KEY}', {sid}, {index}, "
            f"{once}, {touch}, {self._window}, {self._window * 1000}, {RECENT_MAX}, {WALK_MAX}, "
            f"{self._in_flight_ms})"
        )

    def note_args(
        self, conversation_sid: str, index: int, once: str | None, touch: bool
    ) -> list[str | int]:
        """The note's keys and arguments, for :data:`NOTE_FUNCTION` (here, or inside the
        broker's publish: one round trip for both)."""
        return [
            _mark_key(conversation_sid),
            RECENT_KEY,
            conversation_sid,
            index,
            ""
            if once is None
            else confirm_key(conversation_sid, once)
            if self._cluster
            else self._redis_key(once),
            1 if touch else 0,
            self._window,
            self._window * 1000,
            RECENT_MAX,
            WALK_MAX,
            self._in_flight_ms,
        ]

    @translated
    def note(self, conversation_sid: str, index: int, once: str | None, touch: bool) -> Mark:
        keys_and_args = self.note_args(conversation_sid, index, once, touch)
        if self._cluster:
            if touch:
                self._touch(
                    keys=[RECENT_KEY], args=[conversation_sid, self._window * 1000, RECENT_MAX]
                )
            published, heard = self._note_alone(
                keys=[str(keys_and_args[0])], args=keys_and_args[2:]
            )
            return Mark(int(published), int(heard))
        keys = [str(key) for key in keys_and_args[:2]]
        published, heard = self._note(keys=keys, args=keys_and_args[2:])
        return Mark(int(published), int(heard))

    @translated
    def advance(self, conversation_sid: str, index: int) -> None:
        self._advance(keys=[_mark_key(conversation_sid)], args=[index, self._window])

    @translated
    def recent(self) -> list[str]:
        rows = self._redis.zrevrange(RECENT_KEY, 0, RECENT_MAX - 1)
        return [row.decode() if isinstance(row, bytes) else str(row) for row in rows]

    @translated
    def forget(self, conversation_sid: str) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.zrem(RECENT_KEY, conversation_sid)
        pipe.delete(_mark_key(conversation_sid))  # one key a command: a cluster's pipeline
        pipe.delete(_checked_key(conversation_sid))
        pipe.execute()

    @translated
    def now(self) -> float:
        seconds, micros = self._redis.time()
        return float(seconds) + micros / 1_000_000

    @translated
    def claim(self, conversation_sid: str, since: float) -> bool:
        args = [int(since * 1000), self._window]
        return bool(self._claim(keys=[_checked_key(conversation_sid)], args=args))
