"""The Redis broker: per-user logs in Redis, one pub/sub subscription per process.

Publishing runs one Lua script per event: it appends the event to each recipient's log (a
Redis stream capped by length, with an expiry, whose ids Redis numbers: one command per
recipient) and publishes one wake-up message naming each recipient's new seq. Each process
holds exactly one pub/sub connection and fans deliveries out to its own open streams. Pub/sub
can drop messages while the connection is down; after reconnecting, every local stream is told
to catch up from its log.
Each message on the channel is a :class:`Frame`, dispatched by its kind to a handler.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Collection, Iterator
from enum import StrEnum
from functools import partial
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

from webapp.events.broker import (
    CATCH_UP,
    LOG_MAX_AGE,
    LOG_MAX_EVENTS,
    ONCE_SECONDS,
    Backlog,
    BrokerUnavailable,
    Replay,
    Subscription,
    SubscriptionRegistry,
    resumable,
)
from webapp.events.errand import Errand
from webapp.events.log_expiry import LogExpiry
from webapp.events.published_index import (
    NOTE_FUNCTION,
    InOrder,
    Mark,
    OutOfOrder,
    RedisPublishedIndex,
)
from webapp.events.redis_batch import ScriptBatcher
from webapp.events.redis_channels import (
    GRACE_SECONDS,
    UserChannels,
    channel_identity,
    user_channel,
)
from webapp.events.redis_deadline import DeadlineQueue, connection_class_for
from webapp.events.redis_errors import REDIS_ERRORS, unavailable
from webapp.events.types import Delivery, Event, EventId, Signal, event_tag, frame_body

log = logging.getLogger(__name__)

CHANNEL = "parley:events"
REPLAY_PAGE = 200
#: How long a stream's opening waits for Redis to confirm its user's channel.
SUBSCRIBE_SECONDS = 5.0
#: How often the listener leaves the channels no stream needs any more.
SWEEP_SECONDS = 1.0


class Frame(StrEnum):
    """The kinds of message on :data:`CHANNEL`: the kind's letter, a newline, then its payload.

    Flat text, one letter: every process's listener reads every message, and for a large group
    its parsing is a share of broadcast (``docs/benchmarks.md``, "Dispatch"). The letters and
    layouts are the wire format between workers of different versions during a rolling
    deploy (they share Redis): a kind's layout never changes; a new layout gets a new letter,
    which older workers ignore.
    """

    EVENT = "n"
    """``n\\n<event JSON>\\n<identity> <seq>.<tag>\\n…``: an event appended to each identity's
    log, with its new seq (written by the publish script). The epoch is left out: each stream
    fills in the one it read with the log, so the script reads nothing per recipient. A log's
    first entry is named in full, ``<epoch>-1.<tag>``: a log made again under a new epoch
    then tells the streams that read the old one."""
    TAGGED_EVENT = "t"
    """As ``n``, with every id in full, ``<epoch>-<seq>.<tag>``: what workers of the previous
    log layout publish (their epochs are not the current layout's: a stream resyncs)."""
    UNTAGGED_EVENT = "e"
    """As ``t``, ids ``<epoch>-<seq>`` without a tag: what workers that predate tags publish."""
    SIGNAL = "s"
    """``s\\n<event JSON>\\n<identity>\\n…``: a signal (typing, presence), in no log."""
    CLOSE = "c"
    """``c\\n<identity>``: close that user's streams."""
    MEMBERSHIP = "m"
    """``m\\n<conversation sid>``: a participant list changed (handled by the membership
    cache, which registers for it through :meth:`RedisBroker.bus`)."""


#: Called with a frame's payload (everything after the kind's line).
FrameHandler = Callable[[str], None]

# Lua: ``append(epoch key, log, fresh epoch, maxlen, expiry, due, now_ms, field, text, tag)``
# appends one entry to a user's log, its seq numbered by Redis (ids ``0-<seq>``), and returns
# what the wake-up names it by: ``<seq>``, or ``<epoch>-1`` for a log's first entry (the epoch
# key made, with a fresh epoch, if there is none). One command per recipient, and no read:
# inside a script each command's Lua call costs more than the command (docs/benchmarks.md,
# "What a log entry costs Redis"). Both keys' expiry is pushed out when ``due`` (the publishing
# process decides: log_expiry.py) and whenever a log is made.
APPEND_FUNCTION = """
local function append(epoch_key, log, fresh, maxlen, keep, due, now, field, text, tag)
  local id = redis.call('XADD', log, 'MAXLEN', '~', maxlen, '0-*', 't', now, field, text, 'g', tag)
  local seq = string.sub(id, 3)
  if seq == '1' then
    local epoch = redis.call('SET', epoch_key, fresh, 'NX', 'GET') or fresh
    redis.call('EXPIRE', epoch_key, keep)
    redis.call('EXPIRE', log, keep)
    return epoch .. '-1'
  end
  if due then
    redis.call('EXPIRE', epoch_key, keep)
    redis.call('EXPIRE', log, keep)
  end
  return seq
end
"""

# ARGV: event, fresh epoch, maxlen (trimmed by whole nodes: see LOG_MAX_EVENTS), expiry (s),
# now_ms, channel, once key ('' for none), once ttl, tag, shared body key ('' for none), the
# identities whose expiry is due, then the identities in ARGV[first]; both lists one per line.
# Key names are derived here from the identities, and the identities are one argument, not one
# each: for a group of 1,000, packing 1,000 arguments was a tenth of the worker's time in a
# broadcast (on a Cluster, redis_cluster_broker.py runs its own script, with its keys declared).
# With a shared body key, the event's text is stored once, under that key, and each log entry
# holds only the key ('r'), not the text ('e'): a message to a group of 1,000 is one copy of its
# text in Redis, not 1,000.
# The wake-up message is a Frame.EVENT: "n", the event, then "<identity> <seq>.<tag>" per line.
# Routed: while there are no more recipients than processes listening (PUBSUB NUMSUB of the
# shared channel), each recipient's wake-up goes on their own channel (``user_channel``), which
# only the processes holding their streams subscribe to; a larger fan-out is one message on the
# shared channel, which every process reads (fewer messages, each process picking out its own
# users).
_PUBLISH_FUNCTION = (
    APPEND_FUNCTION
    + """
local function publish_event(first)
  if ARGV[7] ~= '' then
    if not redis.call('SET', ARGV[7], '1', 'NX', 'EX', ARGV[8]) then
      return 0
    end
  end
  local tag = ARGV[9]
  local field, text = 'e', ARGV[1]
  if ARGV[10] ~= '' then
    redis.call('SET', ARGV[10], ARGV[1], 'EX', ARGV[4])
    field, text = 'r', ARGV[10]
  end
  local recipients, due = {}, {}
  for who in string.gmatch(ARGV[first], '[^\\n]+') do
    recipients[#recipients + 1] = who
  end
  for who in string.gmatch(ARGV[11], '[^\\n]+') do
    due[who] = true
  end
  local routed = #recipients <= redis.call('PUBSUB', 'NUMSUB', ARGV[6])[2]
  local frame = routed and ('n\\n' .. ARGV[1] .. '\\n')  -- built only when routed
  local lines = {'n', ARGV[1]}
  local fresh, maxlen, keep, now = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
  for _, who in ipairs(recipients) do
    local id = append('parley:u:{' .. who .. '}:epoch', 'parley:u:{' .. who .. '}:events',
      fresh, maxlen, keep, due[who], now, field, text, tag)
    local line = who .. ' ' .. id .. '.' .. tag
    if routed then
      redis.call('PUBLISH', 'parley:u:{' .. who .. '}:ch', frame .. line)
    else
      lines[#lines + 1] = line
    end
  end
  if not routed then
    redis.call('PUBLISH', ARGV[6], table.concat(lines, '\\n'))
  end
  return 1
end
"""
)

_PUBLISH = _PUBLISH_FUNCTION + "return publish_event(12)"


def _publish_in_order(marks: RedisPublishedIndex) -> str:
    """As _PUBLISH, with the conversation's mark noted first, in the same call (one round trip
    per webhook instead of two): ARGV[12] the conversation, ARGV[13] the message's index,
    ARGV[14] '1' when strict, identities in ARGV[15]; the note's other arguments are baked
    into the text (``RedisPublishedIndex.lua_note``), its once key is the publish's (ARGV[7]).
    Strict, with a message before it neither published nor heard of: nothing is published
    and {published, heard} is returned instead of 0 or 1."""
    return (
        NOTE_FUNCTION
        + _PUBLISH_FUNCTION
        + f"""
local n = tonumber(ARGV[13])
local mark, heard = {marks.lua_note("ARGV[12]", "n", "ARGV[7]", "'1'")}
if ARGV[14] == '1' and n > heard + 1 then
  return {{mark, heard}}
end
local done = publish_event(15)
-- The mark moves over this message now, not at the next webhook (which may come after its
-- de-duplication key has expired).
{marks.lua_note("ARGV[12]", "n + 1", "''", "'0'")}
return done
"""
    )


# ARGV: the shared channel, the event, then the identities. A Frame.SIGNAL, routed as
# events are (see _PUBLISH_FUNCTION).
_SIGNAL = """
local frame = 's\\n' .. ARGV[2]
if #ARGV - 2 <= redis.call('PUBSUB', 'NUMSUB', ARGV[1])[2] then
  for i = 3, #ARGV do
    redis.call('PUBLISH', 'parley:u:{' .. ARGV[i] .. '}:ch', frame .. '\\n' .. ARGV[i])
  end
else
  redis.call('PUBLISH', ARGV[1], frame .. '\\n' .. table.concat(ARGV, '\\n', 3))
end
"""

#: From this many recipients on, an event's text is stored once and logged by reference
#: (below it, a second key would cost more than the copies it saves).
SHARED_BODY_MIN = 3

#: Recipients dispatched between two cooperative yields, across messages: webhooks keep being
#: served during a large fan-out, and under a backlog each stream wakes to several events
#: (one write) instead of one write per event.
DISPATCH_SLICE = 256

# KEYS: epoch key, log. ARGV: fresh epoch, expiry (s). ``head`` is {epoch, seq, tag of the
# newest entry} (seq '0' and no tag for an empty log), the epoch made if there is none. Both
# keys' expiry is pushed out: a log never expires under a stream that has just read it.
_HEAD = """
local epoch = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'GET') or ARGV[1]
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
local head = {epoch, '0'}
local newest = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)[1]
if newest then
  head[2] = string.sub(newest[1], 3)
  local fields = newest[2]
  for i = 1, #fields - 1, 2 do
    if fields[i] == 'g' then
      head[3] = fields[i + 1]
    end
  end
end
"""
_CURSOR = _HEAD + "return head"

# A stream opening's read of the log, in one call: as _CURSOR, with ARGV[3] and ARGV[4] the
# epoch and seq of the stream's position ('' and 0 for none), ARGV[5] a page's size, ARGV[6]
# '1' to read the texts that page's entries point at (one Redis: their keys are in other
# slots on a cluster). Returns {head}, or, when the position is in the log's epoch and behind
# it, {head, the oldest entry from its seq on (seq 1 for 0), the first page after it (read
# only when that entry is the one named: the replay can then be served), texts
# {key, text or false, ...}}. The rules (``resumable``, the age limit) stay the caller's.
_OPENING = (
    _HEAD
    + """
local after = tonumber(ARGV[4])
if ARGV[3] ~= head[1] or after >= tonumber(head[2]) then
  return {head}
end
local from = '0-' .. math.max(after, 1)
local found = redis.call('XRANGE', KEYS[2], from, '+', 'COUNT', 1)
local page, texts = {}, {}
if found[1] and found[1][1] == from then
  page = redis.call('XRANGE', KEYS[2], '0-' .. (after + 1), '+', 'COUNT', ARGV[5])
  if ARGV[6] == '1' then
    local seen = {}
    for _, row in ipairs(page) do
      local fields = row[2]
      for i = 1, #fields - 1, 2 do
        if fields[i] == 'r' and not seen[fields[i + 1]] then
          seen[fields[i + 1]] = true
          texts[#texts + 1] = fields[i + 1]
          texts[#texts + 1] = redis.call('GET', fields[i + 1])
        end
      end
    end
  end
end
return {head, found, page, texts}
"""
)


def _epoch_key(identity: str) -> str:
    """The epoch of ``identity``'s log: a name for its life, in every id it issues."""
    return f"parley:u:{{{identity}}}:epoch"


def _log_key(identity: str) -> str:
    """``identity``'s log: a Redis stream whose ids are ``0-<seq>``."""
    return f"parley:u:{{{identity}}}:events"


def _body_key() -> str:
    """Where one publish stores its event's text for every recipient's log to point at."""
    return f"parley:ev:{secrets.token_hex(8)}"


def _fresh_epoch() -> str:
    return secrets.token_hex(4)


class ReplayBroken(RuntimeError):
    """The log changed under a replay (trimmed or lost): the stream must end and resync."""


class RedisBroker:
    """Broker shared by every worker and dyno that uses the same Redis."""

    def __init__(
        self,
        client: redis.Redis,
        url: str,
        max_events: int = LOG_MAX_EVENTS,
        max_age: int = LOG_MAX_AGE,
        once_seconds: int = ONCE_SECONDS,
        channel_grace: float = GRACE_SECONDS,
    ) -> None:
        """``client`` serves commands (its pool is shared with the rest of the process);
        ``url`` opens the one extra connection held for pub/sub; a user's channel is left
        ``channel_grace`` seconds after their last stream here closed."""
        self._redis = client
        self._url = url
        self._max_events = max_events
        self._max_age = max_age
        #: When each publish pushes out its recipients' log expiry, and to what.
        self.expiry = LogExpiry(max_age)
        self._once_seconds = once_seconds
        self._publish = self._redis.register_script(_PUBLISH)
        #: The marks of what was published per conversation, on the same client: a publish
        #: ``in_order`` notes its message in the same call.
        self.marks = RedisPublishedIndex(client, once_redis_key, window=max_age)
        self._publish_in_order = self._redis.register_script(_publish_in_order(self.marks))
        self._cursor = self._redis.register_script(_CURSOR)
        self._opening = self._redis.register_script(_OPENING)
        self._signal = self._redis.register_script(_SIGNAL)
        #: Publishes made while one is out go together, in one round trip.
        self._batcher = ScriptBatcher(client)
        self.subscriptions = SubscriptionRegistry()
        #: Busy while a listener dispatches messages it has received (the writer waits).
        self.backlog = Backlog()
        #: This process's per-user channels, one per user with a stream here.
        self.channels = UserChannels(self._catch_up, grace=channel_grace)
        self._down = threading.Event()  # set while the listener cannot reach Redis
        self._pubsub: Any = None  # the listener's connection, shut on close
        #: Pub/sub messages received so far, and who hears of them (once a second).
        self.received = 0
        self.report_received: Callable[[int], None] | None = None
        self._dispatched = 0  # recipients since the dispatcher last yielded
        self._stopped = threading.Event()
        self._connected = threading.Event()
        # Keyed by the plain letters: cheaper for the listener to look up than enum members.
        self._handlers: dict[str, FrameHandler] = {
            Frame.EVENT.value: self._dispatch_event,
            Frame.TAGGED_EVENT.value: self._dispatch_event,
            Frame.UNTAGGED_EVENT.value: self._dispatch_event,
            Frame.SIGNAL.value: self._dispatch_signal,
            Frame.CLOSE.value: self._close_streams,
        }
        self._resubscribe_watchers: list[Callable[[None], None]] = []
        self._reconnect_watchers: list[Callable[[], None]] = []
        self._start_listening()

    def _start_listening(self) -> None:
        """One thread (a greenlet once patched) holds the process's pub/sub connection."""
        threading.Thread(target=self._listen, name="parley-redis", daemon=True).start()

    # Publishing --------------------------------------------------------------------------

    def publish(
        self,
        event: Event,
        recipients: Collection[str],
        once: str | None = None,
        in_order: InOrder | None = None,
    ) -> bool:
        identities = set(recipients)
        if "\n" in "".join(identities):
            log.warning("identities with a newline cannot be delivered; dropped")
            identities = {i for i in identities if "\n" not in i}
        if not identities and once is None and in_order is None:
            return True
        event_json = event.to_json()
        due = self.expiry.due(identities)
        args: list[Any] = [
            event_json,
            _fresh_epoch(),
            self._max_events,
            self.expiry.seconds,
            int(time.time() * 1000),
            CHANNEL,
            once_redis_key(once) if once is not None else "",
            self._once_seconds,
            event_tag(event_json, once),
            _body_key() if len(identities) >= SHARED_BODY_MIN else "",
            "\n".join(due),
        ]
        script = self._publish
        if in_order is not None:
            script = self._publish_in_order
            args += [
                in_order.conversation_sid,
                in_order.message_index,
                1 if in_order.strict else 0,
            ]
        args.append("\n".join(identities))
        try:
            answer = self._batcher.call(script, args)
        except REDIS_ERRORS as exc:
            self.expiry.forget(due)
            raise unavailable(exc) from exc
        if answer != 1:
            self.expiry.forget(due)  # nothing was appended
        if isinstance(answer, list):
            raise OutOfOrder(Mark(int(answer[0]), int(answer[1])))
        return bool(answer)

    def signal(self, event: Event, recipients: Collection[str]) -> None:
        """A :attr:`Frame.SIGNAL`, routed as events are (one script call). Nothing is
        written to any log."""
        identities = [i for i in set(recipients) if "\n" not in i]
        if not identities:
            return
        try:
            self._signal(args=[CHANNEL, event.to_json(), *identities])
        except REDIS_ERRORS as exc:
            raise unavailable(exc) from exc

    def claim(self, key: str, seconds: float) -> bool:
        try:
            return bool(self._redis.set(key, "1", nx=True, px=max(1, int(seconds * 1000))))
        except REDIS_ERRORS as exc:
            raise unavailable(exc) from exc

    def release(self, key: str) -> None:
        try:
            self._redis.delete(key)
        except REDIS_ERRORS as exc:
            raise unavailable(exc) from exc

    def close_user_streams(self, identity: str) -> None:
        try:
            self._publish_frame(user_channel(identity), f"{Frame.CLOSE}\n{identity}")
        except REDIS_ERRORS as exc:
            raise unavailable(exc) from exc

    def _publish_frame(self, channel: str, frame: str) -> None:
        """One frame on ``channel``: ``PUBLISH`` here, ``SPUBLISH`` on a cluster."""
        self._redis.publish(channel, frame)

    # Frames for other parts of the app (e.g. the membership cache's invalidations) --------

    def live(self) -> bool:
        """True while this process's subscription is up (it hears every frame)."""
        return self._connected.is_set()

    def announce(self, kind: Frame, payload: str) -> None:
        """One PUBLISH of a frame to every process, this one included. Raises
        ``redis.RedisError`` (the caller knows what a lost frame costs)."""
        self._publish_frame(CHANNEL, f"{kind}\n{payload}")

    def on_frame(self, kind: Frame, handler: Callable[[str | None], None]) -> None:
        """Call ``handler(payload)`` for each frame of ``kind``, and ``handler(None)`` each time
        the subscription is (re-)established, before :meth:`live` turns true: frames sent
        meanwhile were lost. Called from the listener's thread: it must not block. One
        handler per kind."""
        if kind.value in self._handlers:
            raise ValueError(f"frames of kind {kind!r} already have a handler")
        self._handlers[kind.value] = handler
        self._resubscribe_watchers.append(handler)

    def bus(self, kind: Frame) -> FrameBus:
        """Frames of one ``kind``, for a part of the app that needs no other (it then knows
        nothing of frames: the membership cache's invalidations)."""
        return FrameBus(self, kind)

    # Subscribing -------------------------------------------------------------------------

    def subscribe(self, identity: str) -> Subscription:
        """Once Redis has confirmed this process listens on ``identity``'s channel (at once
        when another stream of theirs is open here): whatever is published after this
        returns reaches the subscription, so the log can be read next with nothing falling
        between. Raises :class:`BrokerUnavailable` when that cannot be confirmed."""
        sub = Subscription(identity)
        self.subscriptions.add(sub)
        ready = self._acquire(user_channel(identity))
        if ready.is_set():
            return sub
        if self._down.is_set() or not ready.wait(SUBSCRIBE_SECONDS):
            self.unsubscribe(sub)
            raise BrokerUnavailable("the pub/sub subscription could not be confirmed")
        return sub

    def unsubscribe(self, subscription: Subscription) -> None:
        if self.subscriptions.remove(subscription):
            self._release(user_channel(subscription.identity))

    def _acquire(self, channel: str) -> threading.Event:
        return self.channels.acquire(channel)

    def _release(self, channel: str) -> None:
        self.channels.release(channel)

    def _catch_up(self, channel: str) -> None:
        """A user's channel is back after a loss: their streams read what they missed."""
        identity = channel_identity(channel)
        for sub in self.subscriptions.of(identity) if identity is not None else ():
            sub.offer(CATCH_UP)

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (from the listener's thread; it must not block) each time the
        subscription is back after a loss: webhooks may have failed meanwhile."""
        self._reconnect_watchers.append(callback)

    def _listen(self) -> None:
        """Hold this process's one subscription; re-establish it with back-off."""
        backoff = 0.1
        missed = False
        while not self._stopped.is_set():
            pubsub = None
            try:
                # No retries inside redis-py: a reconnect it made on its own would restore the
                # shared channel alone, silently; here every channel comes back, then catches up.
                client = redis.Redis.from_url(
                    self._url, socket_timeout=30, socket_keepalive=True, retry=Retry(NoBackoff(), 0)
                )
                pubsub = self._pubsub = client.pubsub()
                pubsub.subscribe(CHANNEL)
                self._confirm_shared(pubsub)
                for handler in self._resubscribe_watchers:
                    handler(None)  # frames may have been missed meanwhile
                self.channels.attach(partial(_send, pubsub.connection))
                self._down.clear()
                self._connected.set()
                backoff = 0.1
                if missed:
                    log.info("redis pub/sub restored; streams catch up from their logs")
                    for callback in self._reconnect_watchers:
                        callback()
                self._read(pubsub)
            except (*REDIS_ERRORS, OSError, ValueError) as exc:  # ValueError: shut by close()
                if self._stopped.is_set():
                    return
                if self._connected.is_set():
                    log.warning("redis pub/sub lost (%s); reconnecting", exc.__class__.__name__)
                self.channels.detach()
                self._connected.clear()
                self._down.set()
                missed = True
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except REDIS_ERRORS:
                        pass

    def _confirm_shared(self, pubsub: Any) -> None:
        """Wait for the shared channel's confirmation: :meth:`live` then means it is heard."""
        deadline = time.monotonic() + SUBSCRIBE_SECONDS
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=deadline - time.monotonic())
            if message is not None and message["type"] == "subscribe":
                return
        raise redis.exceptions.TimeoutError("the shared channel's subscription was not confirmed")

    def _read(self, pubsub: Any) -> None:
        """Dispatch messages until stopped (or the connection fails, raising)."""
        try:
            self._dispatch_until_stopped(pubsub)
        finally:
            self.backlog.idle(self)  # a lost connection holds nothing back

    def _dispatch_until_stopped(self, pubsub: Any) -> None:
        channels, backlog, connection = self.channels, self.backlog, pubsub.connection
        next_sweep = time.monotonic() + SWEEP_SECONDS
        reported = self.received
        while not self._stopped.is_set():
            # What has arrived already is dispatched before the writer writes (Backlog). Only
            # asked here, not read: a message half received would time out without a wait.
            if not connection.can_read(timeout=0):
                backlog.idle(self)
            message = pubsub.get_message(timeout=SWEEP_SECONDS)
            if message is not None:
                backlog.busy(self)
                kind = message["type"]
                if kind == "message":
                    self.received += 1
                    self._dispatch(message["data"])
                elif kind == "subscribe":
                    channels.confirmed(_text(message["channel"]))
                elif kind == "unsubscribe":
                    channels.unsubscribed(_text(message["channel"]))
            now = time.monotonic()
            if now >= next_sweep:
                channels.sweep(now)
                next_sweep = now + SWEEP_SECONDS
                if self.report_received is not None and self.received != reported:
                    self.report_received(self.received - reported)
                    reported = self.received

    def _dispatch(self, data: bytes) -> None:
        text = data.decode() if isinstance(data, bytes) else str(data)
        kind, _, payload = text.partition("\n")
        handler = self._handlers.get(kind)
        if handler is None:
            log.warning("ignored a pub/sub message of unknown kind %r", kind[:16])
            return
        handler(payload)

    def _close_streams(self, identity: str) -> None:
        for sub in self.subscriptions.of(identity):
            sub.close()

    def _dispatch_event(self, payload: str) -> None:
        event_json, _, lines = payload.partition("\n")
        if not lines or not len(self.subscriptions):
            return
        body = frame_body(event_json)
        if len(self.subscriptions) * 16 < lines.count("\n") + 1:
            # Few local streams, a large fan-out: look each local identity up in the text.
            local = self.subscriptions.identities()
            self._dispatch_local(local, event_json, body, "\n" + lines + "\n")
            return
        of = self.subscriptions.of
        for line in lines.split("\n"):
            identity, _, raw_id = line.rpartition(" ")
            subs = of(identity)
            if subs:
                self._offer(subs, raw_id, event_json, body)
            self._pace()

    def _dispatch_signal(self, payload: str) -> None:
        event_json, _, lines = payload.partition("\n")
        signal: Signal | None = None
        for identity in lines.split("\n"):
            subs = self.subscriptions.of(identity)
            if subs:
                signal = signal or Signal(event_json)
                for sub in subs:
                    if sub.signals:
                        sub.offer(signal)

    def _dispatch_local(self, local: list[str], event_json: str, body: str, text: str) -> None:
        for identity in local:
            needle = f"\n{identity} "
            at = text.find(needle)
            while at >= 0:
                start = at + len(needle)
                raw_id = text[start : text.index("\n", start)]
                if " " not in raw_id:  # else a longer identity that starts with this one
                    self._offer(self.subscriptions.of(identity), raw_id, event_json, body)
                    break
                at = text.find(needle, start)
            self._pace()

    def _pace(self) -> None:
        self._dispatched += 1
        if self._dispatched >= DISPATCH_SLICE:
            self._dispatched = 0
            time.sleep(0)  # gevent.sleep(0) once patched: let webhooks and streams run

    @staticmethod
    def _offer(subs: Collection[Subscription], raw_id: str, event_json: str, body: str) -> None:
        """``raw_id`` is ``<seq>.<tag>`` (the epoch left to each stream: ``""`` here) or in
        full, ``<epoch>-<seq>.<tag>`` (a log's first entry; an older worker's frame)."""
        rest, _, tag = raw_id.partition(".")
        epoch, _, seq = rest.rpartition("-")
        delivery = Delivery(EventId(epoch, int(seq), tag), event_json, body, raw_id)
        for sub in subs:
            sub.offer(delivery)

    # Replay ------------------------------------------------------------------------------

    def cursor(self, identity: str) -> EventId:
        try:
            epoch, seq, *tag = self._cursor(
                keys=[_epoch_key(identity), _log_key(identity)],
                args=[_fresh_epoch(), self.expiry.seconds],
            )
        except REDIS_ERRORS as exc:
            raise unavailable(exc) from exc
        return EventId(epoch.decode(), int(seq), _text(tag[0]) if tag else "")

    def replay(self, identity: str, after: EventId | None, errand: Errand | None = None) -> Replay:
        """One round trip (with ``errand``'s script too) for everything an opening needs
        before its first bytes: the cursor, whether ``after`` can be resumed from, and the
        replay's first page with the texts it points at; further pages are read as the
        stream is written."""
        keys = [_epoch_key(identity), _log_key(identity)]
        args = [
            _fresh_epoch(),
            self.expiry.seconds,
            after.epoch if after else "",
            after.seq if after else 0,
        ]
        args += [REPLAY_PAGE, "1" if self._texts_in_scripts else "0"]
        head, *rest = self._read_opening(keys, args, errand)
        epoch, seq, *tag = head
        current = EventId(epoch.decode(), int(seq), _text(tag[0]) if tag else "")
        found, page, texts = None, [], {}
        if rest:
            found = self._within_age(_rows(rest[0]), current.epoch)
            page = _rows(rest[1])
            texts = dict(zip(rest[2][::2], rest[2][1::2], strict=True))
        if after is None or not resumable(after, current, found):
            return Replay(resync=True, cursor=current, events=iter(()))
        if after.seq == current.seq:
            return Replay(resync=False, cursor=current, events=iter(()))
        events = self._pages(identity, current.epoch, after.seq, (page, texts))
        return Replay(resync=False, cursor=current, events=events)

    #: Whether a script may read the texts log entries point at (keys in any slot).
    _texts_in_scripts = True

    def _read_opening(self, keys: list[str], args: list[Any], errand: Errand | None) -> Any:
        """The opening's script and ``errand``'s, pipelined: one round trip. A script Redis
        does not know (restarted, flushed) is loaded and the lot sent again, once."""
        scripts = [self._opening] if errand is None else [self._opening, errand.script]
        try:
            for attempt in range(2):
                pipe = self._redis.pipeline(transaction=False)
                pipe.evalsha(self._opening.sha, len(keys), *keys, *args)
                if errand is not None:
                    pipe.evalsha(errand.script.sha, len(errand.keys), *errand.keys, *errand.args)
                replies = pipe.execute(raise_on_error=False)
                if attempt or not any(isinstance(r, NoScriptError) for r in replies):
                    break
                for script in scripts:
                    self._redis.script_load(script.script)
        except REDIS_ERRORS as exc:
            raise unavailable(exc) from exc
        if errand is not None:
            errand.done(replies[1])
        if isinstance(replies[0], Exception):
            raise unavailable(replies[0])
        return replies[0]

    def _within_age(
        self, rows: list[tuple[bytes, dict[bytes, bytes]]], epoch: str
    ) -> EventId | None:
        """The id of the first of ``rows`` (the log's oldest from a seq on) if it is within
        the age limit."""
        if not rows or float(rows[0][1][b"t"]) < (time.time() - self._max_age) * 1000:
            return None
        raw_id, fields = rows[0]
        return EventId(epoch, _seq(raw_id), _text(fields.get(b"g", b"")))

    def _pages(
        self, identity: str, epoch: str, after: int, first: tuple[list[Any], dict[bytes, Any]]
    ) -> Iterator[Delivery]:
        """The log after ``after``, a page at a time (the first already read, with the texts
        it points at as far as the script read them); breaks off if the log changes under it."""
        expected = after + 1
        rows, texts = first
        while True:
            if not rows:
                return
            shared = self._shared_bodies(rows, texts)
            for raw_id, fields in rows:
                if _seq(raw_id) != expected:
                    raise ReplayBroken("the log was trimmed during replay")
                tag = _text(fields.get(b"g", b""))
                text = fields.get(b"e")
                yield Delivery(EventId(epoch, expected, tag), _text(text or shared[fields[b"r"]]))
                expected += 1
            if len(rows) < REPLAY_PAGE:
                return
            try:
                page: Any = self._redis.xrange(
                    _log_key(identity), f"0-{expected}", "+", count=REPLAY_PAGE
                )
            except REDIS_ERRORS as exc:
                raise ReplayBroken("Redis went away during replay") from exc
            rows, texts = page, {}

    def _shared_bodies(self, rows: Any, read: dict[bytes, Any]) -> dict[bytes, bytes]:
        """The texts a page of log entries points at (``r``): those not ``read`` already, in
        one round trip. One that is gone (expired with its log's age, or evicted) breaks the
        replay: all or nothing."""
        texts = dict(read)
        keys = list({fields[b"r"] for _, fields in rows if b"r" in fields} - texts.keys())
        if keys:
            try:
                texts.update(zip(keys, self._mget(keys), strict=True))
            except REDIS_ERRORS as exc:
                raise ReplayBroken("Redis went away during replay") from exc
        if any(text is None for text in texts.values()):
            raise ReplayBroken("an event's text is gone from Redis")
        return texts

    def _mget(self, keys: list[bytes]) -> list[Any]:
        return list(self._redis.mget(keys))

    # Housekeeping ------------------------------------------------------------------------

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except REDIS_ERRORS:
            return False

    def close(self) -> None:
        """End every stream and leave every channel now (shutting the pub/sub connection
        also ends the listener's wait)."""
        self._stopped.set()
        for sub in self.subscriptions.all():
            sub.close()
        pubsub = self._pubsub
        if pubsub is not None and pubsub.connection is not None:
            pubsub.connection.disconnect()


class FrameBus:
    """One kind of frame on the broker's channel: what another part of the app sends and hears."""

    def __init__(self, broker: RedisBroker, kind: Frame) -> None:
        self._broker = broker
        self._kind = kind

    def live(self) -> bool:
        return self._broker.live()

    def announce(self, payload: str) -> None:
        self._broker.announce(self._kind, payload)

    def on_message(self, handler: Callable[[str | None], None]) -> None:
        self._broker.on_frame(self._kind, handler)


def connect(url: str, max_connections: int = 2) -> redis.Redis:
    """The process's command client: a small blocking pool, so connections stay bounded
    (2 pooled + the pub/sub one = 3 per worker). A webhook makes at most two short round trips
    (membership, publish), so waiting 5 s for one means the worker is overloaded, which
    :class:`BrokerBusy` reports as such, not as Redis being down. Inside a deadline (a
    webhook's), every wait is cut to the time left (:mod:`.redis_deadline`)."""
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=5,
        socket_timeout=5,
        connection_class=connection_class_for(url),
        queue_class=DeadlineQueue,
    )
    return redis.Redis(connection_pool=pool)


def _send(connection: Any, command: str, channels: list[str]) -> None:
    """One (UN)SUBSCRIBE on the pub/sub connection, written straight to it: the listener is
    reading it meanwhile, and its confirmations come back there."""
    connection.send_command(command, *channels, check_health=False)


def once_redis_key(once: str) -> str:
    """The Redis key that marks ``once`` as published (set by the publish script)."""
    return f"parley:webhook:{once}"


def _rows(reply: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """Stream entries as a script returns them (field lists) in ``XRANGE``'s parsed shape."""
    return [(raw_id, dict(zip(fields[::2], fields[1::2], strict=True))) for raw_id, fields in reply]


def _seq(raw_id: Any) -> int:
    """The seq of a log entry's id, ``0-<seq>``."""
    return int(bytes(raw_id).split(b"-", 1)[1])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
