"""Presence changes turned into ``presence`` signals to the user's contacts.

A contact is anyone who shares a conversation with the user (Twilio's participant lists,
through the membership cache): nobody else learns when a user comes and goes. Announcing
costs a Twilio call, so it runs on one background worker per process, never in the stream's
or a request's path; the same worker refreshes this process's presence entries and reports
the users whose entries expired elsewhere (a crashed worker's).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import zlib

from flask import current_app

from webapp.events.broker import BrokerUnavailable
from webapp.events.membership import identities
from webapp.events.presence import PRESENCE_TICK
from webapp.events.types import PRESENCE, Event
from webapp.services import Services, get_services
from webapp.twilio_gateway import GatewayError

log = logging.getLogger(__name__)

#: Presence is shared through conversations of at most this many people: in a larger group
#: each arrival would fan out to every member's streams (a 1,000-member group: a million
#: offers as its members come online), for a dot nobody looks at in so large a crowd.
PRESENCE_MAX_GROUP = 100
#: Announcements in progress at once per process (each may wait on a Twilio lookup).
ANNOUNCERS = 8


def contacts_of(services: Services, identity: str) -> set[str]:
    """Everyone who shares a conversation (of at most :data:`PRESENCE_MAX_GROUP` people) with
    ``identity``, not ``identity``.

    Cached (``services.membership.contacts``, in Redis when there is one): after a deploy every
    browser reconnects at once, and each lookup would otherwise be a Twilio call.
    """
    cached, generation = services.membership.contacts.get(identity)
    if cached is not None:
        return cached
    conversations = services.gateway.conversations_of(identity)
    people: set[str] = set()
    for conversation in conversations:
        members = identities(services.membership.participants(conversation.sid))
        if len(members) <= PRESENCE_MAX_GROUP:
            people.update(members)
    people.discard(identity)
    services.membership.contacts.put(identity, people, [c.sid for c in conversations], generation)
    return people


class Changes:
    """Presence changes waiting to be announced, coalesced: a user queued again before being
    announced (online, then offline a moment later, as in a reconnect storm) keeps one place
    in the line and is announced once, with the latest state."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, bool] = {}
        self._order: queue.Queue[str] = queue.Queue()

    def put(self, identity: str, online: bool) -> None:
        with self._lock:
            queued = identity in self._latest
            self._latest[identity] = online
        if not queued:
            self._order.put(identity)

    def get(self, timeout: float | None = None) -> tuple[str, bool]:
        """The next change; :class:`queue.Empty` after ``timeout`` seconds without one
        (``None``: wait for one)."""
        identity = self._order.get(timeout=timeout)
        with self._lock:
            return identity, self._latest.pop(identity)


class PresenceRelay:
    """This process's presence bookkeeping; one per app (see :func:`presence_relay`).

    Announcements run on :data:`ANNOUNCERS` workers, each user always on the same one (so one
    user's changes go out in order): after a deploy every user comes online at once, and the
    first lookup of each user's contacts (a cold cache) waits on a Twilio call, which
    overlaps with the others' instead of queueing behind them.
    """

    def __init__(
        self, services: Services, tick: float = PRESENCE_TICK, announcers: int = ANNOUNCERS
    ) -> None:
        self._services = services
        self._tick = tick
        self._changes = [Changes() for _ in range(announcers)]
        self._started = False
        self._lock = threading.Lock()

    def opened(self, identity: str) -> None:
        """A stream of ``identity`` opened in this process."""
        self._start()
        if self._services.presence.connected(identity):
            self._changes_of(identity).put(identity, True)

    def closed(self, identity: str) -> None:
        if self._services.presence.disconnected(identity):
            self._changes_of(identity).put(identity, False)

    def _changes_of(self, identity: str) -> Changes:
        return self._changes[zlib.crc32(identity.encode()) % len(self._changes)]

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run, name="parley-presence", daemon=True).start()
        for n, changes in enumerate(self._changes):
            threading.Thread(
                target=self._announce_from,
                args=(changes,),
                name=f"parley-presence-{n}",
                daemon=True,
            ).start()

    def _announce_from(self, changes: Changes) -> None:
        while True:
            self._announce(*changes.get())

    def _run(self) -> None:
        """Every tick: keep this process's users online, and announce the users whose entries
        expired elsewhere (a crashed worker's) as offline."""
        while True:
            time.sleep(self._tick)
            try:
                for identity in self._services.presence.refresh():
                    self._changes_of(identity).put(identity, False)
            except Exception:  # the worker must outlive any one failure
                log.exception("presence refresh failed")

    def _announce(self, identity: str, online: bool) -> None:
        try:
            recipients = contacts_of(self._services, identity)
            event = Event(PRESENCE, {"identity": identity, "online": online})
            self._services.broker.signal(event, recipients)
        except (GatewayError, BrokerUnavailable) as exc:
            log.warning("presence of %s not announced: %s", identity, exc)
        except Exception:  # the worker must outlive any one failure
            log.exception("presence of %s not announced", identity)


def presence_relay() -> PresenceRelay:
    """The current app's relay, made on first use (by the first stream in this process)."""
    relay: PresenceRelay | None = current_app.extensions.get("parley.presence")
    if relay is None:
        relay = current_app.extensions.setdefault("parley.presence", PresenceRelay(get_services()))
    return relay
