"""Messages for people with no open stream, pushed to their browsers off the webhook's path.

The webhook only appends to this worker's queue (no I/O: it keeps its deadline and its cost
per request). One background thread per worker (a greenlet under gevent) drains it: it waits
a moment to batch a burst, asks presence (shared by every worker and dyno) who has no stream
open, and sends each of them one push per conversation, at most one round per user every
:data:`USER_INTERVAL` seconds. The limit is kept in Redis, so a user's bursts are limited
whichever workers their webhooks reach; what waits meanwhile is folded into one push
("3 new messages"). The queue is in memory: a worker that dies loses its unsent pushes, which
are notices only (the messages are in Twilio and the page shows them).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask

from webapp.events import types
from webapp.events.redis_cluster import RedisClient
from webapp.events.redis_errors import REDIS_ERRORS
from webapp.events.types import Event
from webapp.extensions import db
from webapp.models import PushSubscription, User
from webapp.push.sender import GONE, PushSender, Subscription, topic_for

if TYPE_CHECKING:
    from webapp.names.resolver import NameResolver
    from webapp.people.presence import Presence

log = logging.getLogger(__name__)

#: At most one round of pushes per user in this many seconds (all their conversations).
USER_INTERVAL = 3.0
#: Seconds a new message waits so that the rest of a burst joins its push.
BATCH_DELAY = 0.3
#: Characters of a message shown in its notification.
PREVIEW_CHARS = 120
#: Messages queued per worker at most; past it the oldest are dropped (a worker far behind
#: would only push stale news).
QUEUE_MAX = 10_000
#: Seconds before each new try of a push the push service could not take (not reached, 429,
#: 5xx), unless it asked for longer (``Retry-After``); after the last, the push is dropped.
RETRY_DELAYS = (5.0, 30.0, 120.0)

#: ``should_push(identity, conversation_sid)``: False keeps a push from being sent (mute).
ShouldPush = Callable[[str, str], bool]


def _always(identity: str, conversation_sid: str) -> bool:
    return True


@dataclass
class _Pending:
    """The newest message of one conversation for one user, and how many are waiting."""

    author: str
    text: str
    count: int = 1
    due: float = field(default_factory=time.monotonic)
    #: Tries the push service refused so far, and the browsers (subscription ids) still to
    #: be told: None for all of them; a retry goes only where it failed, since a notification
    #: shown again would alert again.
    attempts: int = 0
    rows: frozenset[int] | None = None


class RateLimit:
    """One push round per user per interval; in Redis with one, else in this process."""

    def __init__(self, client: RedisClient | None, interval: float = USER_INTERVAL) -> None:
        self.client = client
        self.interval = interval
        self._next: dict[str, float] = {}

    def take(self, identity: str) -> bool:
        if self.client is not None:
            key = f"parley:push:rate:{{{identity}}}"
            return bool(self.client.set(key, b"1", nx=True, px=int(self.interval * 1000)))
        now = time.monotonic()
        if self._next.get(identity, 0.0) > now:
            return False
        self._next[identity] = now + self.interval
        return True


class PushDispatcher:
    """``Services.push``: :meth:`offer` from the webhook, the rest on its own thread."""

    def __init__(
        self,
        sender: PushSender | None,
        presence: Presence,
        names: NameResolver,
        limit: RateLimit,
        should_push: ShouldPush = _always,
    ) -> None:
        """Without a ``sender`` (no VAPID keys) nothing is queued."""
        self.sender = sender
        self.presence = presence
        self.names = names
        self.limit = limit
        self.should_push = should_push
        self._app: Flask | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._queue: list[tuple[str, str, str, tuple[str, ...]]] = []
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._thread: threading.Thread | None = None
        #: Rounds sent, for tests that wait on the thread.
        self.rounds = 0

    def bind(self, app: Flask) -> None:
        """The app whose database the thread reads subscriptions from."""
        self._app = app

    @property
    def enabled(self) -> bool:
        return self.sender is not None

    # The webhook -------------------------------------------------------------------------

    def offer(self, event: Event, recipients: Collection[str]) -> None:
        """Queue ``event`` for the ``recipients`` who may need a push. Never blocks or raises."""
        if self.sender is None or event.type != types.MESSAGE_ADDED:
            return
        message: dict[str, Any] = event.data.get("message") or {}
        author = message.get("author") or ""
        conversation_sid = event.data.get("conversation_sid") or ""
        others = tuple(r for r in recipients if r != author)
        if not others or not conversation_sid:
            return
        with self._lock:
            if len(self._queue) >= QUEUE_MAX:
                del self._queue[0]
            self._queue.append((conversation_sid, author, _text(message), others))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="parley-push", daemon=True)
                self._thread.start()
        self._wake.set()

    # The thread --------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(timeout=self._next_wait())
            self._wake.clear()
            try:
                self._round()
            except Exception:  # the thread must outlive anything; the next message retries
                log.exception("push round failed")

    def _next_wait(self) -> float | None:
        with self._lock:
            if not self._pending:
                return None
            soonest = min(p.due for p in self._pending.values())
        return max(0.05, soonest - time.monotonic())

    def _round(self) -> None:
        with self._lock:
            queued, self._queue = self._queue, []
        now = time.monotonic()
        for conversation_sid, author, text, recipients in queued:
            for identity in recipients:
                pending = self._pending.get((identity, conversation_sid))
                if pending is None:
                    self._pending[(identity, conversation_sid)] = _Pending(
                        author, text, due=now + BATCH_DELAY
                    )
                else:
                    pending.author, pending.text = author, text
                    pending.count += 1
                    pending.attempts, pending.rows = 0, None  # news: for every browser
        due = {key for key, p in self._pending.items() if p.due <= now}
        if not due:
            return
        people = {identity for identity, _ in due}
        try:
            online = self.presence.online(people)
        except REDIS_ERRORS as exc:
            log.warning("push round deferred: presence unavailable (%s)", exc)
            self._defer(due, USER_INTERVAL)
            return
        for key in [k for k in due if k[0] in online]:  # their open page tells them
            del self._pending[key]
        by_user: dict[str, list[str]] = {}
        for identity, conversation_sid in due:
            if identity not in online:
                by_user.setdefault(identity, []).append(conversation_sid)
        assert self._app is not None
        with self._app.app_context():
            for identity, conversations in by_user.items():
                self._push_user(identity, conversations)
        self.rounds += 1

    def _defer(self, keys: Collection[tuple[str, str]], seconds: float) -> None:
        due = time.monotonic() + seconds
        for key in keys:
            if key in self._pending:
                self._pending[key].due = due

    def _push_user(self, identity: str, conversations: list[str]) -> None:
        """Push what is due for one user, unless filtered out or over their rate."""
        assert self.sender is not None
        user = User.by_identity(identity)
        subscriptions: list[PushSubscription] = []
        if user is not None:
            rows = db.session.execute(db.select(PushSubscription).filter_by(user_id=user.id))
            subscriptions = list(rows.scalars())
        # Muted (or no browser to tell): dropped before the rate limit, which they never use.
        wanted = [
            c
            for c in conversations
            if user is not None and subscriptions and self.should_push(identity, c)
        ]
        for conversation_sid in set(conversations) - set(wanted):
            del self._pending[(identity, conversation_sid)]
        if user is None or not wanted:
            return
        try:
            allowed = self.limit.take(identity)
        except REDIS_ERRORS:
            allowed = True  # better a push too many than none
        if not allowed:
            self._defer({(identity, c) for c in wanted}, self.limit.interval / 2)
            return
        batch = {c: self._pending.pop((identity, c)) for c in wanted}
        names = self.names.names(p.author for p in batch.values())
        gone: list[int] = []
        for conversation_sid, pending in batch.items():
            failed: set[int] = set()
            wait = 0.0
            for row in subscriptions:
                if row.id in gone or (pending.rows is not None and row.id not in pending.rows):
                    continue
                payload = notification(
                    conversation_sid, names.get(pending.author, pending.author), pending, row
                )
                answer = self.sender.send(
                    Subscription(row.endpoint, row.p256dh, row.auth),
                    payload,
                    topic_for(conversation_sid),
                )
                if answer.status in GONE:
                    gone.append(row.id)
                elif answer.transient:
                    failed.add(row.id)
                    wait = max(wait, answer.retry_after or 0.0)
                    log.warning("push service answered %s for user %s", answer.status, user.id)
                elif not 200 <= answer.status < 300:
                    log.warning("push service answered %s for user %s", answer.status, user.id)
            if failed:
                self._retry((identity, conversation_sid), pending, failed, wait)
        if gone:
            db.session.execute(db.delete(PushSubscription).where(PushSubscription.id.in_(gone)))
            db.session.commit()
            log.info("removed %d expired push subscription(s) of user %s", len(gone), user.id)

    def _retry(self, key: tuple[str, str], pending: _Pending, rows: set[int], wait: float) -> None:
        """Try ``pending`` again for the browsers ``rows`` after the next of
        :data:`RETRY_DELAYS` (or the service's ``wait``, if longer), unless it had them all."""
        if pending.attempts >= len(RETRY_DELAYS):
            log.warning("push for %s dropped after %d tries", key[0], pending.attempts + 1)
            return
        pending.due = time.monotonic() + max(RETRY_DELAYS[pending.attempts], wait)
        pending.attempts += 1
        pending.rows = frozenset(rows)
        self._pending[key] = pending


def _text(message: dict[str, Any]) -> str:
    body = " ".join(str(message.get("body") or "").split())
    if body:
        return body[:PREVIEW_CHARS]
    media = message.get("media") or []
    return "Sent a file" if media else ""


def notification(
    conversation_sid: str, sender_name: str, pending: _Pending, row: PushSubscription
) -> dict[str, Any]:
    """What the service worker shows: the sender's name, the newest text (or "New message"
    when this browser chose private previews), and where a click goes."""
    if row.previews and pending.text:
        body = pending.text + (f" (+{pending.count - 1} more)" if pending.count > 1 else "")
    else:
        body = "New message" if pending.count == 1 else f"{pending.count} new messages"
    return {
        "title": sender_name,
        "body": body,
        "conversation_sid": conversation_sid,
        "url": f"/c/{conversation_sid}",
    }
