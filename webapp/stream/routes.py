"""The SSE endpoint. See ``docs/stream.md`` for the resume contract it keeps."""

from __future__ import annotations

import errno
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, request
from flask_login import current_user
from sqlalchemy.exc import TimeoutError as PoolTimeout

from webapp.errors import json_error
from webapp.events.broker import BrokerUnavailable, Replay, Subscription
from webapp.events.redis_broker import ReplayBroken
from webapp.events.types import Delivery, EventId
from webapp.extensions import db
from webapp.services import Services, get_services
from webapp.stream.admission import STREAM_HEADERS, turned_away
from webapp.stream.hangup import client_socket, watch_hangup
from webapp.stream.outbox import Outbox
from webapp.stream.sse import closing, comment, control, retry
from webapp.stream.writer import HandedOver, can_hand_over

log = logging.getLogger(__name__)
bp = Blueprint("stream", __name__)

#: Replayed events written per chunk.
REPLAY_CHUNK = 200


@bp.get("/stream")
def stream() -> Response:
    """Reached with a slot (``admission.py``). An opening that could not get a database
    connection or Redis in time is asked to come back later like those turned away before."""
    try:
        return _open()
    except (PoolTimeout, BrokerUnavailable) as exc:
        log.info("stream opening turned away: %s", exc.__class__.__name__)
        return Response(
            turned_away(request.environ, get_services().admission),
            mimetype="text/event-stream",
            headers=STREAM_HEADERS,
        )


def _open() -> Response:
    if not current_user.is_authenticated:  # loads the user: the pool's connection is taken
        return json_error(401, "unauthorized", "Log in to open the event stream.")
    identity: str = current_user.identity
    # The stream needs nothing more from the database: give the connection back now rather
    # than when the request ends (after the Redis round trips below).
    db.session.close()
    body = open_stream(
        get_services(),
        identity,
        request.environ,
        request.headers.get("Last-Event-ID") or request.args.get("cursor"),
        request.args.get("signals") == "1",
        current_app.permanent_session_lifetime.total_seconds(),
    )
    return Response(body, mimetype="text/event-stream", headers=STREAM_HEADERS)


def open_stream(
    services: Services,
    identity: str,
    environ: dict[str, Any],
    last_event_id: str | None,
    signals: bool,
    session_lifetime_s: float,
) -> Iterator[str]:
    """The body of a signed-in user's stream: subscribed, its replay read, ready to go out.
    Shared by this route and the lean path (``fast_path.py``); raises
    :class:`BrokerUnavailable` when Redis is out of reach."""
    broker = services.broker
    cursor = EventId.parse(last_event_id)
    subscription = broker.subscribe(identity)  # before reading the log: nothing falls between
    # Signals (typing, presence) are opt-in: clients that do not ask see only logged events.
    subscription.signals = signals
    # This response renews the session cookie (a permanent session, refreshed on every
    # request), which then lasts the session lifetime unless other requests renew it again:
    # the stream ends then, and a browser whose session did expire reconnects to a 401.
    subscription.expires = time.monotonic() + session_lifetime_s
    relay = services.presence_relay  # tells the user's contacts; never waits on Twilio here
    try:
        # The user's presence entry goes with the log's read: one round trip on one Redis.
        replay = broker.replay(identity, cursor, relay.opening(identity))
    except BrokerUnavailable:
        relay.abandoned(identity)
        broker.unsubscribe(subscription)
        raise
    log.info("stream open: %s (%s)", identity, "resync" if replay.resync else "resumed")
    sock = client_socket(environ)
    hand_over = can_hand_over(environ, sock)
    chunked = hand_over and environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    return _events(services, subscription, cursor, replay, sock, chunked, hand_over)


def _events(
    services: Services,
    subscription: Subscription,
    cursor: EventId | None,
    replay: Replay,
    sock: socket.socket | None,
    chunked: bool,
    hand_over: bool,
) -> Iterator[str]:
    """The stream's first bytes and any replay, then live events.

    With ``hand_over`` (gunicorn's gevent worker), the live part belongs to the process's
    stream writer (``writer.py``) and this generator ends by raising :class:`HandedOver`.
    Otherwise it writes them itself: everything queued when it wakes up goes out as one chunk
    (one ``send``), so under load the batches grow by themselves instead of the writes.
    """
    identity = subscription.identity
    broker, metrics, heartbeats = services.broker, services.metrics, services.heartbeats
    relay = services.presence_relay
    metrics.stream_opened()
    stop_watching = watch_hangup(sock, subscription)  # a closed tab ends the stream at once
    heartbeats.add(subscription)  # one ticker per process wakes it for heartbeats

    def end(exiting: bool = False) -> None:
        heartbeats.discard(subscription)
        # The user may have logged out elsewhere (this stream was closed for it): their
        # sessions are looked up afresh from now on (``webapp/auth/session_users.py``).
        services.session_users.forget(identity)
        metrics.stream_closed()
        broker.unsubscribe(subscription)
        if exiting:
            # The browser reconnects to another worker within seconds: leave this worker's
            # presence entry to expire (45 s) rather than announce the user offline, then
            # online again, to every contact (for every user at once, on each deploy).
            return
        relay.closed(identity)
        log.info("stream closed: %s", identity)

    ended_here = True
    try:
        yield retry() + comment("connected")
        if replay.resync or cursor is None:
            outbox = Outbox(broker, identity, replay.cursor)
            yield control("resync", {"cursor": str(replay.cursor)}, replay.cursor)
        else:
            outbox = Outbox(broker, identity, cursor)
            yield control("resumed", {"cursor": str(cursor)})
            for chunk, replayed_to, count in _batches(replay.events, cursor):
                metrics.event_delivered(count)
                yield chunk
                outbox.caught_up(replayed_to)
        if hand_over and sock is not None and not subscription.closed:
            stop_watching()  # the writer watches the connection from now on
            services.stream_writer.adopt(sock, subscription, outbox, chunked, end)
            ended_here = False
            raise HandedOver(errno.EPIPE, "the stream writer has the connection")
        while not subscription.closed:
            items = subscription.get_all(timeout=None)  # woken by events or the ticker
            if not items:
                if not subscription.closed:
                    yield comment("heartbeat")
                continue
            text, delivered = outbox.render(items)
            if text:
                metrics.event_delivered(delivered)  # once per write, not per event
                yield text
        # Ended by logout, shutdown or falling behind: the browser reconnects and replays.
        yield closing()
    except (ReplayBroken, BrokerUnavailable):
        log.info(
            "stream ended for %s: the log could not be read; the browser will resume", identity
        )
    finally:
        stop_watching()  # harmless if already stopped (a hand-over stopped it)
        if ended_here:
            end()


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
