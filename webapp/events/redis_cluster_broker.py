"""The Redis broker on a Redis Cluster (``REDIS_CLUSTER=1``).

The same logs, ids and frames as :class:`~webapp.events.redis_broker.RedisBroker`, laid out so
that no script crosses a slot:

- Every key of one user (``parley:u:{identity}:epoch``, ``:events``) and their channel
  (``parley:u:{identity}:ch``) share the ``{identity}`` hash tag. A publish groups its
  recipients by slot and runs one script per slot (pipelined: one round trip per node), each
  appending to its users' logs and waking each of them with ``SPUBLISH`` on their channel
  (sharded pub/sub: the message stays on the node that owns the slot).
- A webhook's de-duplication key is kept per slot group (``parley:webhook:{identity}:<key>``,
  ``identity`` the group's first): a retry after a publish that failed half-way publishes
  only what is missing, never anything twice.
- A new message's conversation mark (``parley:catchup:{sid}``) is noted before the publish
  (a strict publish stops there when a message before it is missing) and confirmed after it
  (``parley:webhook:{sid}:<key>``, then the mark moves): three steps where one Redis takes
  one, each in its own slot.
- A group's text stored once (three recipients or more) is written first, in its own slot,
  and replay reads such texts across slots.

Each process holds one pub/sub connection per primary that serves a channel it needs (a
:class:`_Shard`, with its own listener): the channel of each user it holds streams for, and
the shared channel (``parley:events``, frames every process hears). When a slot moves
(``redis-cli --cluster reshard``), its node drops the subscriptions (an unasked
``sunsubscribe``) and refuses new ones (``MOVED``, to a process whose map is older than the
move); when a primary fails, its connection breaks. Either way the channels are subscribed
again on the node that serves them now, and each user's streams catch up from their log once
that is confirmed, as after any pub/sub loss. A node asked for the map right after a move may
not have heard of it yet: a channel the map still places on the node that dropped it waits,
subscribed nowhere, for the next sweep's map.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Collection
from functools import partial
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.crc import key_slot
from redis.retry import Retry

from webapp.events.broker import (
    LOG_MAX_AGE,
    LOG_MAX_EVENTS,
    ONCE_SECONDS,
    BrokerUnavailable,
)
from webapp.events.errand import Errand
from webapp.events.published_index import (
    InOrder,
    Mark,
    OutOfOrder,
    RedisPublishedIndex,
    confirm_key,
)
from webapp.events.redis_broker import (
    APPEND_FUNCTION,
    CHANNEL,
    SHARED_BODY_MIN,
    SWEEP_SECONDS,
    Frame,
    RedisBroker,
    _body_key,
    _epoch_key,
    _fresh_epoch,
    _log_key,
    _send,
    _text,
    once_redis_key,
)
from webapp.events.redis_channels import GRACE_SECONDS, UserChannels, user_channel
from webapp.events.redis_errors import REDIS_ERRORS, unavailable
from webapp.events.types import Event, event_tag

log = logging.getLogger(__name__)

# KEYS: the group's de-duplication key (when ARGV[9] is '1'), then each recipient's epoch key
# and log. ARGV: event, fresh epoch, maxlen, expiry (s), now_ms, once ttl, tag, shared body key
# ('' for none), '1' with a de-duplication key, the recipients whose expiry is due (one per
# line), then the recipients (in the order of their keys). Returns 1, or 0 when the group had
# it already (a retried webhook).
_SLOT_PUBLISH = (
    APPEND_FUNCTION
    + """
local k = 1
if ARGV[9] == '1' then
  if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[6]) then
    return 0
  end
  k = 2
end
local field, text = 'e', ARGV[1]
if ARGV[8] ~= '' then
  field, text = 'r', ARGV[8]
end
local due = {}
for who in string.gmatch(ARGV[10], '[^\\n]+') do
  due[who] = true
end
local frame = 'n\\n' .. ARGV[1] .. '\\n'
for i = 11, #ARGV do
  local who = ARGV[i]
  local id = append(KEYS[k], KEYS[k + 1], ARGV[2], ARGV[3], ARGV[4], due[who], ARGV[5], field,
    text, ARGV[7])
  k = k + 2
  redis.call('SPUBLISH', 'parley:u:{' .. who .. '}:ch', frame .. who .. ' ' .. id .. '.' .. ARGV[7])
end
return 1
"""
)


def slot_once_key(identity: str, once: str) -> str:
    """A webhook's de-duplication key in ``identity``'s slot."""
    return f"parley:webhook:{{{identity}}}:{once}"


def _channel_slot(channel: str) -> int:
    return key_slot(channel.encode())


def _slot_of(identity: str) -> int | None:
    """The slot of every key of ``identity``; None for an identity whose keys would not share
    one (empty, or starting with ``}``: no usable hash tag)."""
    slot = key_slot(_epoch_key(identity).encode())
    if key_slot(_log_key(identity).encode()) != slot:
        return None
    return slot


class ClusterBroker(RedisBroker):
    """The broker on a Redis Cluster; see the module docstring."""

    def __init__(
        self,
        client: RedisCluster,
        url: str,
        max_events: int = LOG_MAX_EVENTS,
        max_age: int = LOG_MAX_AGE,
        once_seconds: int = ONCE_SECONDS,
        channel_grace: float = GRACE_SECONDS,
    ) -> None:
        self._cluster = client
        self._grace = channel_grace
        self._shards: dict[str, _Shard] = {}
        self._topology = threading.Lock()
        self._shared_ready = threading.Event()
        super().__init__(
            client,  # type: ignore[arg-type]  # the commands used here exist on both
            url,
            max_events=max_events,
            max_age=max_age,
            once_seconds=once_seconds,
            channel_grace=channel_grace,
        )
        self.marks = RedisPublishedIndex(client, once_redis_key, window=max_age, cluster=True)  # type: ignore[arg-type]
        self._slot_publish = client.register_script(_SLOT_PUBLISH)

    def _start_listening(self) -> None:
        """The shared channel's shard first: :meth:`live` says when it is confirmed."""
        try:
            self._shared_ready = self._acquire(CHANNEL)
        except BrokerUnavailable:
            log.warning("no node serves the shared channel yet; will retry")

    # Publishing --------------------------------------------------------------------------

    def publish(
        self,
        event: Event,
        recipients: Collection[str],
        once: str | None = None,
        in_order: InOrder | None = None,
    ) -> bool:
        groups: dict[int, list[str]] = defaultdict(list)
        for identity in sorted(set(recipients)):
            slot = _slot_of(identity) if "\n" not in identity else None
            if slot is None:
                log.warning("an identity without a usable hash tag cannot be delivered; dropped")
                continue
            groups[slot].append(identity)
        if not groups and once is None and in_order is None:
            return True
        event_json = event.to_json()
        tag = event_tag(event_json, once)
        try:
            if in_order is not None and once is not None:
                mark = self.marks.note(
                    in_order.conversation_sid,
                    in_order.message_index,
                    once,
                    True,
                )
                if in_order.strict and in_order.message_index > mark.heard + 1:
                    raise OutOfOrder(Mark(mark.published, mark.heard))
            body = ""
            if sum(len(members) for members in groups.values()) >= SHARED_BODY_MIN:
                body = _body_key()
                self._cluster.set(body, event_json, ex=self.expiry.seconds)
            fresh = self._publish_groups(groups, event_json, tag, body, once) if groups else True
            if in_order is not None and once is not None:
                sid = in_order.conversation_sid
                self._cluster.set(confirm_key(sid, once), "1", ex=self._once_seconds)
                self.marks.note(sid, in_order.message_index + 1, None, False)
        except REDIS_ERRORS as exc:
            raise unavailable(exc) from exc
        return fresh

    def _publish_groups(
        self, groups: dict[int, list[str]], event_json: str, tag: str, body: str, once: str | None
    ) -> bool:
        """One script per slot group, pipelined (one round trip per node). True if any
        group had not published it before."""
        due = set(self.expiry.due([who for members in groups.values() for who in members]))
        try:
            answers = self._run_groups(groups, event_json, tag, body, once, due)
        except Exception:
            self.expiry.forget(due)
            raise
        if not all(int(answer) == 1 for answer in answers):
            self.expiry.forget(due)  # a group that had it already appended nothing
        return any(int(answer) == 1 for answer in answers)

    def _run_groups(
        self,
        groups: dict[int, list[str]],
        event_json: str,
        tag: str,
        body: str,
        once: str | None,
        due: set[str],
    ) -> list[Any]:
        """The answers of the slot groups' scripts; raises the first error among them."""
        common = [
            event_json,
            _fresh_epoch(),
            self._max_events,
            self.expiry.seconds,
            int(time.time() * 1000),
            self._once_seconds,
            tag,
            body,
            "1" if once is not None else "0",
        ]
        calls: list[tuple[Any, list[str], list[Any]]] = []
        nodes = self._cluster.nodes_manager
        for slot, members in groups.items():
            keys = [slot_once_key(members[0], once)] if once is not None else []
            for identity in members:
                keys += [_epoch_key(identity), _log_key(identity)]
            group_due = "\n".join(who for who in members if who in due)
            calls.append((nodes.get_node_from_slot(slot), keys, [*common, group_due, *members]))
        script = self._slot_publish
        for attempt in (1, 2):
            pipe = self._cluster.pipeline(transaction=False)
            for node, keys, args in calls:
                # The node named: else redis-py's pipeline asks a node for the script's keys
                # (COMMAND GETKEYS, a round trip per script, on a connection it then holds).
                pipe.execute_command(
                    "EVALSHA", script.sha, len(keys), *keys, *args, target_nodes=node
                )
            answers = pipe.execute(raise_on_error=False)
            if attempt == 1 and any(isinstance(a, redis.exceptions.NoScriptError) for a in answers):
                script.sha = self._cluster.script_load(script.script)  # loaded on every node
                continue
            for answer in answers:
                if isinstance(answer, Exception):
                    raise answer
            return list(answers)
        return []  # unreachable: the second attempt returns or raises

    def signal(self, event: Event, recipients: Collection[str]) -> None:
        """One SPUBLISH per recipient on their channel, pipelined."""
        identities = [i for i in set(recipients) if "\n" not in i]
        if not identities:
            return
        frame = f"{Frame.SIGNAL}\n{event.to_json()}\n"
        try:
            pipe = self._cluster.pipeline(transaction=False)
            for identity in identities:
                pipe.spublish(user_channel(identity), frame + identity)
            pipe.execute()
        except REDIS_ERRORS as exc:
            raise unavailable(exc) from exc

    def _publish_frame(self, channel: str, frame: str) -> None:
        self._cluster.spublish(channel, frame)

    def live(self) -> bool:
        return self._shared_ready.is_set()

    def _mget(self, keys: list[bytes]) -> list[Any]:
        return list(self._cluster.mget_nonatomic(keys))

    # Replay ------------------------------------------------------------------------------

    #: A stored text's key is in a slot of its own: replay reads texts with ``_mget``.
    _texts_in_scripts = False

    def _read_opening(self, keys: list[str], args: list[Any], errand: Errand | None) -> Any:
        """The opening's script alone (the user's keys share a slot), then ``errand``'s: its
        keys are in another slot, so another node's round trip."""
        try:
            reply = self._opening(keys=keys, args=args)
        except REDIS_ERRORS as exc:
            raise unavailable(exc) from exc
        if errand is not None:
            errand.run()
        return reply

    # Subscribing -------------------------------------------------------------------------

    def _acquire(self, channel: str) -> threading.Event:
        with self._topology:
            return self._owner(channel).channels.acquire(channel)

    def _release(self, channel: str) -> None:
        with self._topology:
            shards = list(self._shards.values())
        for shard in shards:  # normally the first: the owner; elsewhere only while moving
            if shard.channels.release(channel):
                return

    def _owner(self, channel: str) -> _Shard:
        """The shard of the node serving ``channel``'s slot now (under the topology lock)."""
        try:
            node = self._cluster.nodes_manager.get_node_from_slot(_channel_slot(channel))
        except REDIS_ERRORS as exc:  # no node serves it now (a failover in progress)
            raise BrokerUnavailable("no node serves the channel's slot now") from exc
        shard = self._shards.get(node.name)
        if shard is None:
            shard = self._shards[node.name] = _Shard(self, node)
        return shard

    def _catch_up(self, channel: str) -> None:
        if channel == CHANNEL:
            return  # frames missed meanwhile were reported when the shared channel was lost
        super()._catch_up(channel)

    def _shard_lost(self, shard: _Shard) -> bool:
        """``shard``'s connection broke: True if its node still serves slots (reconnect to
        it), else its channels are handed to the nodes that serve them now."""
        for handler in self._resubscribe_watchers:
            handler(None)  # the shared channel may have been this shard's
        with self._topology:
            try:
                self._cluster.nodes_manager.initialize()
            except REDIS_ERRORS:
                return True  # no map yet: try the same node again after a back-off
            primaries = {node.name for node in self._cluster.get_primaries()}
            if shard.name in primaries:
                return True
            shard.retired = True
            self._shards.pop(shard.name, None)
            self._rehome(shard.channels.take())
        for callback in self._reconnect_watchers:
            callback()
        return False

    def _moved(self, shard: _Shard, channels: list[str], again: bool = False) -> None:
        """Redis dropped ``channels`` from ``shard``, or refused them (MOVED): their slots
        moved. Serve them from their new nodes. Those that no node serves yet, or that the
        map still places on ``shard`` (the node it came from has not heard of the move yet),
        are subscribed nowhere until the next sweep tries them ``again``: then they are
        subscribed wherever the map says, ``shard`` included (the slot may have come back;
        if not, its refusal brings them here once more)."""
        with self._topology:
            try:
                self._cluster.nodes_manager.initialize()
            except REDIS_ERRORS:
                pass  # no map now: every channel waits for the next sweep
            waiting = 0
            for channel in channels:
                if channel == CHANNEL:
                    for handler in self._resubscribe_watchers:
                        handler(None)
                try:
                    owner: _Shard | None = self._owner(channel)
                except BrokerUnavailable:
                    owner = None
                if owner is None or (owner is shard and not again):
                    shard.channels.away(channel)
                    waiting += 1
                else:
                    for name, route in shard.channels.take(channel):
                        owner.channels.adopt(name, route)
        if not again or waiting < len(channels):  # a sweep that changed nothing says nothing
            log.info(
                "%d channels left %s, %d waiting for the map", len(channels), shard.name, waiting
            )

    def _rehome(self, routes: list[Any]) -> None:
        for channel, route in routes:
            try:
                self._owner(channel).channels.adopt(channel, route)
            except BrokerUnavailable:
                log.warning("channel %s has no node now; its streams end and resume", channel)

    def close(self) -> None:
        super().close()
        with self._topology:
            for shard in self._shards.values():
                shard.stop()


class _Shard:
    """One primary's sharded pub/sub connection, held by a listener thread of its own."""

    def __init__(self, broker: ClusterBroker, node: Any) -> None:
        self.broker = broker
        self.name: str = node.name
        pool = node.redis_connection.connection_pool
        self._connection_class = pool.connection_class
        self._connection_kwargs = {
            **pool.connection_kwargs,
            "socket_timeout": 30,
            "socket_keepalive": True,
            "retry": Retry(NoBackoff(), 0),
        }
        self._connection_kwargs.pop("redis_connect_func", None)
        self.channels = UserChannels(
            broker._catch_up,
            grace=broker._grace,
            subscribe_command="SSUBSCRIBE",
            unsubscribe_command="SUNSUBSCRIBE",
            batch_of=_channel_slot,
        )
        self.retired = False
        self._connection: Any = None
        threading.Thread(target=self._listen, name=f"parley-redis-{self.name}", daemon=True).start()

    def _listen(self) -> None:
        broker = self.broker
        backoff = 0.1
        while not broker._stopped.is_set() and not self.retired:
            connection = None
            try:
                connection = self._connection = self._connection_class(**self._connection_kwargs)
                connection.connect()
                self.channels.attach(partial(_send, connection))
                backoff = 0.1
                self._read(connection)
            except (*REDIS_ERRORS, OSError, ValueError) as exc:  # ValueError: shut by stop()
                if self.retired:
                    return
                log.warning("redis pub/sub on %s lost (%s)", self.name, exc.__class__.__name__)
                self.channels.detach()
                if broker._stopped.is_set() or not broker._shard_lost(self):
                    return
                broker._stopped.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                if connection is not None:
                    connection.disconnect()

    def stop(self) -> None:
        """Leave every channel now (the broker is closing): the connection is shut, which
        also ends the listener's wait."""
        self.retired = True
        connection = self._connection
        if connection is not None:
            connection.disconnect()

    def _read(self, connection: Any) -> None:
        try:
            self._dispatch_until_stopped(connection)
        finally:
            self.broker.backlog.idle(self)  # a lost connection holds nothing back

    def _dispatch_until_stopped(self, connection: Any) -> None:
        broker, channels, backlog = self.broker, self.channels, self.broker.backlog
        next_sweep = time.monotonic() + SWEEP_SECONDS
        received = reported = 0  # this shard's own: the broker's total counts every shard's
        moved: list[str] = []
        while not broker._stopped.is_set() and not self.retired:
            # What has arrived already is dispatched before the writer writes (Backlog).
            ready = connection.can_read(timeout=0)
            if not ready:
                backlog.idle(self)
                ready = connection.can_read(timeout=SWEEP_SECONDS)
            if ready:
                backlog.busy(self)
                try:
                    kind, channel, data = connection.read_response(push_request=True)[:3]
                except redis.exceptions.MovedError as refused:  # sent after its slot moved
                    moved.extend(channels.in_batch(refused.slot_id))
                else:
                    if kind == b"smessage":
                        received += 1
                        broker.received += 1
                        broker._dispatch(data)
                    elif kind == b"ssubscribe":
                        channels.confirmed(_text(channel))
                    elif kind == b"sunsubscribe" and not channels.unsubscribed(_text(channel)):
                        moved.append(_text(channel))
                if moved and not connection.can_read(timeout=0):  # the burst is over
                    broker._moved(self, moved)
                    moved = []
            now = time.monotonic()
            if now >= next_sweep:
                channels.sweep(now)
                next_sweep = now + SWEEP_SECONDS
                if waiting := channels.away_channels():
                    broker._moved(self, waiting, again=True)
                if broker.report_received is not None and received != reported:
                    broker.report_received(received - reported)
                    reported = received
