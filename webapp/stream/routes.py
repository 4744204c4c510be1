"""The SSE endpoint. See ``docs/stream.md`` for the resume contract it keeps."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

from flask import Blueprint, Response, request
from flask_login import current_user

from webapp.errors import json_error
from webapp.events.broker import Broker, BrokerUnavailable, CatchUp, Replay, Subscription
from webapp.events.redis_broker import ReplayBroken
from webapp.events.types import Delivery, EventId, Signal
from webapp.ops.metrics import metrics
from webapp.services import get_services
from webapp.stream.hangup import client_socket, watch_hangup
from webapp.stream.heartbeat import heartbeats
from webapp.stream.presence_relay import PresenceRelay, presence_relay
from webapp.stream.sse import comment, control, retry

log = logging.getLogger(__name__)
bp = Blueprint("stream", __name__)

#: Replayed events written per chunk.
REPLAY_CHUNK = 200


@bp.get("/stream")
def stream() -> Response:
    if not current_user.is_authenticated:
        return json_error(401, "unauthorized", "Log in to open the event stream.")
    broker = get_services().broker
    identity: str = current_user.identity
    cursor = EventId.parse(request.headers.get("Last-Event-ID") or request.args.get("cursor"))
    # Signals (typing, presence) are opt-in: clients that do not ask see only logged events.
    signals = request.args.get("signals") == "1"
    subscription = broker.subscribe(identity)  # before reading the log: nothing falls between
    subscription.signals = signals
    try:
        replay = broker.replay(identity, cursor)
    except BrokerUnavailable:
        broker.unsubscribe(subscription)
        return json_error(503, "unavailable", "The event stream is unavailable; retrying.")
    log.info("stream open: %s (%s)", identity, "resync" if replay.resync else "resumed")
    response = Response(
        _events(
            broker,
            subscription,
            cursor,
            replay,
            presence_relay(),
            client_socket(request.environ),
        ),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    return response


def _events(
    broker: Broker,
    subscription: Subscription,
    cursor: EventId | None,
    replay: Replay,
    relay: PresenceRelay,
    sock: socket.socket | None,
) -> Iterator[str]:
    """Replay what was missed, then live events, dropping any the replay already sent.

    Everything queued when the stream wakes up is written as one chunk (one ``send``), so
    under load the batches grow by themselves instead of the writes per event.
    """
    identity = subscription.identity
    metrics.stream_opened()
    relay.opened(identity)
    stop_watching = watch_hangup(sock, subscription)  # a closed tab ends the stream at once
    heartbeats.add(subscription)  # one ticker per process wakes it for heartbeats
    try:
        yield retry() + comment("connected")
        if replay.resync or cursor is None:
            last = replay.cursor
            yield control("resync", {"cursor": str(last)}, last)
        else:
            last = cursor
            yield control("resumed", {"cursor": str(cursor)})
            for chunk, replayed_to, count in _batches(replay.events, cursor):
                metrics.event_delivered(count)
                yield chunk
                last = replayed_to
        while not subscription.closed:
            items = subscription.get_all(timeout=None)  # woken by events or the ticker
            if not items:
                if not subscription.closed:
                    yield comment("heartbeat")
                continue
            out: list[str] = []
            delivered = 0
            for item in items:
                if isinstance(item, Signal):  # no id: the cursor and the page's seq stay put
                    out.append(item.framed())
                elif isinstance(item, CatchUp):
                    caught_up = broker.replay(identity, last)
                    if caught_up.resync:
                        last = caught_up.cursor
                        out.append(control("resync", {"cursor": str(last)}, last))
                        continue
                    for delivery in caught_up.events:
                        if delivery.id.seq > last.seq:
                            out.append(delivery.framed())
                            delivered += 1
                            last = delivery.id
                elif item.id.epoch != last.epoch:
                    # The user's log was lost and restarted: the page must reload over REST.
                    last = item.id
                    out.append(control("resync", {"cursor": str(last)}, last))
                elif item.id.seq > last.seq:
                    out.append(item.framed())
                    delivered += 1
                    last = item.id
            if out:
                metrics.event_delivered(delivered)  # once per write, not per event
                yield "".join(out)
        # Ended by logout, shutdown or falling behind: the browser reconnects and replays.
        yield retry() + comment("closed")
    except (ReplayBroken, BrokerUnavailable):
        log.info(
            "stream ended for %s: the log could not be read; the browser will resume", identity
        )
    finally:
        heartbeats.discard(subscription)
        stop_watching()
        metrics.stream_closed()
        broker.unsubscribe(subscription)
        relay.closed(identity)
        log.info("stream closed: %s", identity)


def _batches(deliveries: Iterator[Delivery], last: EventId) -> Iterator[tuple[str, EventId, int]]:
    """Replayed deliveries framed and joined a page at a time, with the last id and count."""
    out: list[str] = []
    for delivery in deliveries:
        out.append(delivery.framed())
        last = delivery.id
        if len(out) >= REPLAY_CHUNK:
            yield "".join(out), last, len(out)
            out = []
    if out:
        yield "".join(out), last, len(out)
