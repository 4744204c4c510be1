"""Catching up on messages whose webhooks never reached Parley.

Twilio gives up on a webhook after a few retries; if Parley or its Redis was down all that
time, the message never reaches any log, and a page that reconnects is told it missed
nothing. Twilio keeps every message, so Parley compares what it published per conversation
(the mark, :mod:`webapp.events.published_index`) with what Twilio has, and publishes what is
missing, oldest first, each once (under the key its own webhook would use, so a late webhook
for it is a duplicate):

- **On a gap in a webhook's ``Index``** (the broker refuses the webhook's own message, noted
  in the same call as its publish, :meth:`CatchUp.in_order`, and :meth:`CatchUp.fill` runs
  before it is published again):

  - a short one (at most :data:`OVERTAKEN_MAX` messages) is most likely webhooks this one
    overtook (Twilio sends them concurrently), still on their way: the message is published
    at once and the conversation checked :data:`CHECK_AFTER_SECONDS` later, in the
    background, where whatever is still missing then is fetched and published. A webhook
    never waits for another one: waiting held the sender's connections and Redis's, which the
    overtaken webhooks needed, and under load turned every overtaking into a Twilio call;
  - a longer one: up to :data:`INLINE_MAX` missing messages are fetched from Twilio's
    history and published first, inside the same request (so under the webhook's deadline);
  - a longer one still is handed to this process's reconciler and the webhook answered 503:
    Twilio retries it once the gap before it is filled.
- **After a start and after Redis comes back** (:meth:`CatchUp.start`, and the Redis broker's
  reconnect hook): one background thread per process (a greenlet under gevent) compares the
  newest message in Twilio of every conversation with a webhook in the last log window
  (24 h) with its mark, :data:`RECONCILE_PER_SECOND` conversations a second. A conversation
  is claimed in the broker's store before it is checked, and one checked since the sweep
  began is skipped, so the workers of a deploy share a sweep instead of each doing it all.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Mapping

from webapp.events import types
from webapp.events.broker import BrokerUnavailable
from webapp.events.published_index import InOrder, Mark, PublishedIndex
from webapp.services import Services
from webapp.twilio_gateway import GatewayError, MessageRecord
from webapp.webhooks.dedupe import message_added_key
from webapp.webhooks.translate import message_outgoing

log = logging.getLogger(__name__)

#: Missing messages a webhook publishes before its own (one page from Twilio's history); a
#: longer gap is left to the reconciler.
INLINE_MAX = 50
#: A gap of at most this many messages is taken for webhooks the latest one overtook (a burst
#: of concurrent webhooks, some queued behind others): checked later, not now.
OVERTAKEN_MAX = 20
#: When such a gap is checked: after every webhook it could be waiting for has had its
#: deadline (``webapp.webhooks.handler.DEADLINE``), with room for the request's queueing.
CHECK_AFTER_SECONDS = 5.0
#: Missing messages a reconcile publishes per conversation (the newest; a per-user log keeps
#: 1,000 events, so a page could not replay more anyway).
RECONCILE_MAX = 1000
#: Conversations a sweep checks per second (each costs one Twilio call).
RECONCILE_PER_SECOND = 10.0
#: At a start, a check another worker began this long before still counts: the workers of
#: one start come up within a second or two and share one sweep.
START_GRACE_SECONDS = 10.0
#: Rounds a conversation whose check failed (Twilio unreachable) is tried again, and the
#: pause before each.
RETRY_ROUNDS = 3
RETRY_SECONDS = 5.0

_INDEX = re.compile(r"[0-9]{1,9}")


def once_key(message_sid: str) -> str:
    """The ``once`` key a message's ``onMessageAdded`` webhook publishes it under (the key of
    the webhook's first and only event: ``webapp.webhooks.handler`` adds ``:<n>``)."""
    return f"{message_added_key(message_sid)}:0"


class CatchUp:
    """One per app (``Services.catch_up``): the marks, and this process's reconciler."""

    def __init__(self, services: Services) -> None:
        """Call :meth:`reconcile_recent` each time the Redis broker's subscription is back
        after a loss (webhooks may have failed meanwhile)."""
        self.services = services
        self.published: PublishedIndex = services.published
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._serving = False
        self._sweep_grace: float | None = None  # a sweep is due; checks this old still count
        self._soon: set[str] = set()
        #: Gaps to look at again, due in the order they were found (a constant delay): per
        #: conversation the highest index that found one, the attempts so far, and when.
        self._gaps: dict[str, tuple[int, int]] = {}
        self._gaps_due: deque[tuple[float, str]] = deque()
        self._gaps_wake = threading.Event()
        self._checker: threading.Thread | None = None

    # The webhook -------------------------------------------------------------------------

    def in_order(self, params: Mapping[str, str]) -> InOrder | None:
        """For an ``onMessageAdded`` webhook, how its message is published in order: the
        broker notes it in the conversation's mark and refuses it (:class:`OutOfOrder`) while
        messages before it are missing; then :meth:`fill`. None for any other webhook."""
        if params.get("EventType") != "onMessageAdded":
            return None
        conversation_sid = params.get("ConversationSid", "")
        raw_index = params.get("Index", "")
        if not conversation_sid or not params.get("MessageSid") or not _INDEX.fullmatch(raw_index):
            return None
        return InOrder(conversation_sid, int(raw_index))

    def fill(self, order: InOrder, mark: Mark) -> bool:
        """Publish the messages missing before ``order``'s (the broker found them missing:
        ``mark``), if there are few. False when the gap is too long to fill now (the
        reconciler fills it: answer so that Twilio retries). May raise ``GatewayError`` and
        ``BrokerUnavailable`` (the webhook answers 503: Twilio retries, nothing was marked as
        done)."""
        conversation_sid, index = order.conversation_sid, order.message_index
        if index - mark.heard - 1 <= OVERTAKEN_MAX:
            self.check_later(conversation_sid, index)
            return True
        missing, newest = self.services.gateway.messages_between(
            conversation_sid, after=mark.published, before=index, limit=INLINE_MAX + 1
        )
        if len(missing) > INLINE_MAX:
            log.warning(
                "catch-up: over %d messages missing before %s #%d; filled in the background",
                INLINE_MAX,
                conversation_sid,
                index,
            )
            self.reconcile_soon(conversation_sid)
            return False
        # Up to what Twilio has: an Index it does not know yet must not hide later gaps.
        self._publish(
            conversation_sid,
            missing,
            upto=min(index - 1, mark.published if newest is None else newest),
        )
        return True

    def check_later(self, conversation_sid: str, index: int, attempt: int = 0) -> None:
        """Look again, :data:`CHECK_AFTER_SECONDS` from now, for messages missing before
        ``index`` (in the background); a conversation already due is looked at then, up to
        the highest index given."""
        with self._lock:
            known = self._gaps.get(conversation_sid)
            if known is not None:
                self._gaps[conversation_sid] = (max(known[0], index), known[1])
                return
            self._gaps[conversation_sid] = (index, attempt)
            self._gaps_due.append((time.monotonic() + CHECK_AFTER_SECONDS, conversation_sid))
            if self._checker is None:
                self._checker = threading.Thread(
                    target=self._run_checks, name="parley-gaps", daemon=True
                )
                self._checker.start()
        self._gaps_wake.set()

    def _run_checks(self) -> None:
        while True:
            with self._lock:
                due = self._gaps_due[0][0] - time.monotonic() if self._gaps_due else None
                if due is not None and due <= 0:
                    _, conversation_sid = self._gaps_due.popleft()
                    index, attempt = self._gaps.pop(conversation_sid)
            if due is None or due > 0:
                self._gaps_wake.wait(due)
                self._gaps_wake.clear()
                continue
            try:
                self.check_gap(conversation_sid, index, attempt)
            except Exception:  # the thread must outlive anything; the next gap tries again
                log.exception("catch-up: checking %s failed", conversation_sid)

    def check_gap(self, conversation_sid: str, index: int, attempt: int = 0) -> int | None:
        """Publish what is still missing before ``index``, unless it was published meanwhile
        (the usual case: no Twilio call); how many messages were published, or None when it
        is to be looked at again (its webhook is still being handled, or Twilio failed)."""
        try:
            mark = self.published.note(conversation_sid, index, None, False)
            if mark.published >= index - 1:
                return 0
            if mark.heard >= index - 1 and attempt < RETRY_ROUNDS:
                self.check_later(conversation_sid, index, attempt + 1)
                return None
            return self.reconcile(conversation_sid, self.published.now()) or 0
        except GatewayError as exc:
            if attempt < RETRY_ROUNDS:
                log.warning("catch-up: %s not checked: %s", conversation_sid, exc.message)
                self.check_later(conversation_sid, index, attempt + 1)
                return None
            log.error("catch-up: %s not checked, giving up: %s", conversation_sid, exc.message)
            return 0
        except BrokerUnavailable as exc:  # the reconnect's sweep looks at it again
            log.warning("catch-up: %s not checked, store unavailable (%s)", conversation_sid, exc)
            return 0

    # The reconciler ----------------------------------------------------------------------

    def start(self) -> None:
        """This process serves now (gunicorn's ``post_worker_init``): sweep once, and after
        each Redis reconnect."""
        self._serving = True
        self.reconcile_recent(grace=START_GRACE_SECONDS)

    def reconcile_recent(self, grace: float = 0.0) -> None:
        """Sweep every recently active conversation (in the background), skipping those whose
        check began at most ``grace`` seconds before the sweep."""
        if self._serving:
            with self._lock:
                due = self._sweep_grace
                self._sweep_grace = grace if due is None else min(due, grace)
            self._kick()

    def reconcile_soon(self, conversation_sid: str) -> None:
        """Check one conversation (in the background)."""
        with self._lock:
            self._soon.add(conversation_sid)
        self._kick()

    def _kick(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="parley-catchup", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                grace, self._sweep_grace = self._sweep_grace, None
                soon, self._soon = self._soon, set()
            try:
                self._reconcile_all(soon, grace)
            except Exception:  # the thread must outlive anything; the next trigger retries
                log.exception("catch-up: sweep failed")

    def _reconcile_all(self, soon: set[str], grace: float | None) -> None:
        """``soon``, then every recent conversation if ``grace`` is not None."""
        try:
            since = self.published.now()
            recent = self.published.recent() if grace is not None else []
            todo = list(soon) + [sid for sid in recent if sid not in soon]
        except BrokerUnavailable as exc:
            log.warning("catch-up: store unavailable (%s); waiting for Redis", exc)
            return
        published = checked = 0
        for round_ in range(RETRY_ROUNDS + 1):
            failed: list[str] = []
            for conversation_sid in todo:
                began = since if conversation_sid in soon else since - (grace or 0.0)
                try:
                    outcome = self.reconcile(conversation_sid, began)
                except GatewayError as exc:
                    log.warning("catch-up: %s not checked: %s", conversation_sid, exc.message)
                    failed.append(conversation_sid)
                    continue
                except BrokerUnavailable as exc:
                    log.warning("catch-up: stopped, store unavailable (%s)", exc)
                    return
                if outcome is not None:
                    checked += 1
                    published += outcome
                    time.sleep(1 / RECONCILE_PER_SECOND)  # a bounded rate (yields under gevent)
            if not failed or round_ == RETRY_ROUNDS:
                break
            time.sleep(RETRY_SECONDS)
            todo, since, grace = failed, self.published.now(), 0.0  # ours were the last checks
        if checked:
            log.info(
                "catch-up: %d conversations checked, %d messages published", checked, published
            )

    def reconcile(self, conversation_sid: str, since: float) -> int | None:
        """Publish what ``conversation_sid`` misses, unless a check of it began at or after
        ``since`` (``None`` then); how many messages were published."""
        if not self.published.claim(conversation_sid, since):
            return None
        try:
            latest = self.services.gateway.latest_message(conversation_sid)
        except GatewayError as exc:
            if exc.status == 404:  # deleted: nothing to deliver, ever
                self.published.forget(conversation_sid)
                return 0
            raise
        if latest is None:
            return 0
        mark = self.published.note(conversation_sid, latest.index + 1, None, False).published
        if latest.index <= mark:
            return 0
        missing, _ = self.services.gateway.messages_between(
            conversation_sid, after=mark, before=latest.index + 1, limit=RECONCILE_MAX
        )
        return self._publish(conversation_sid, missing, upto=latest.index)

    # Both --------------------------------------------------------------------------------

    def _publish(self, conversation_sid: str, messages: list[MessageRecord], upto: int) -> int:
        """Publish ``messages`` in order, each once, then move the mark to ``upto``."""
        published = 0
        try:
            for message in messages:
                outgoing = message_outgoing(self.services, types.MESSAGE_ADDED, message)
                if self.services.broker.publish(
                    outgoing.event, outgoing.recipients, once=once_key(message.sid)
                ):
                    published += 1
        finally:
            if published:
                self.services.metrics.events_published(published)
        self.published.advance(conversation_sid, upto)
        if published:
            log.info("catch-up: %d missed messages of %s published", published, conversation_sid)
        return published
