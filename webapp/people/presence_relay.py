"""Presence changes turned into ``presence`` signals to the user's contacts.

A contact is anyone who shares a conversation with the user (Twilio's participant lists,
through the membership cache): nobody else learns when a user comes and goes. Announcing
may cost a Twilio call, so it runs on background workers of each process, never in the
stream's or a request's path; one more refreshes this process's presence entries and reports
the users whose entries expired elsewhere (a crashed worker's).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import zlib
from collections.abc import Collection
from functools import partial
from typing import Protocol

from webapp.events.broker import BrokerUnavailable
from webapp.events.errand import Errand
from webapp.events.types import PRESENCE, Event
from webapp.people.contacts import Contacts
from webapp.people.presence import PRESENCE_TICK, Presence
from webapp.twilio_gateway import GatewayError

log = logging.getLogger(__name__)

#: Announcements in progress at once per process (each may wait on a Twilio lookup).
ANNOUNCERS = 8


class Signals(Protocol):
    """Where announcements go: the broker's signals (typing, presence), in no log."""

    def signal(self, event: Event, recipients: Collection[str]) -> None: ...


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
    """This process's presence bookkeeping; one per app (``Services.presence_relay``).

    Announcements run on :data:`ANNOUNCERS` workers, each user always on the same one (so one
    user's changes go out in order): after a deploy every user comes online at once, and the
    first lookup of each user's contacts (a cold cache) waits on a Twilio call, which
    overlaps with the others' instead of queueing behind them.
    """

    def __init__(
        self,
        presence: Presence,
        contacts: Contacts,
        signals: Signals,
        tick: float = PRESENCE_TICK,
        announcers: int = ANNOUNCERS,
    ) -> None:
        self._presence = presence
        self._contacts = contacts
        self._signals = signals
        self._tick = tick
        self._changes = [Changes() for _ in range(announcers)]
        self._started = False
        self._lock = threading.Lock()

    def opening(self, identity: str) -> Errand | None:
        """A stream of ``identity`` is opening in this process (:meth:`closed` undoes it, or
        :meth:`abandoned` if the opening fails): what the broker is to send to Redis with the
        opening's read of the log (the user's presence entry), if anything."""
        self._start()
        return self._presence.connecting(identity, partial(self._came, identity))

    def _came(self, identity: str) -> None:
        self._changes_of(identity).put(identity, True)

    def abandoned(self, identity: str) -> None:
        """The opening failed (Redis out of reach): it is asked to come back, and must not
        wait on Redis again meanwhile."""
        if self._presence.abandoned(identity):
            self._changes_of(identity).put(identity, False)

    def closed(self, identity: str) -> None:
        if self._presence.disconnected(identity):
            self._changes_of(identity).put(identity, False)

    def _changes_of(self, identity: str) -> Changes:
        return self._changes[zlib.crc32(identity.encode()) % len(self._changes)]

    def _start(self) -> None:
        """Started by the first stream, not with the app: threads started before gunicorn
        forks its workers would not run in them."""
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
                for identity in self._presence.refresh():
                    self._changes_of(identity).put(identity, False)
            except Exception:  # the worker must outlive any one failure
                log.exception("presence refresh failed")

    def _announce(self, identity: str, online: bool) -> None:
        try:
            recipients = self._contacts.of(identity)
            event = Event(PRESENCE, {"identity": identity, "online": online})
            self._signals.signal(event, recipients)
        except (GatewayError, BrokerUnavailable) as exc:
            log.warning("presence of %s not announced: %s", identity, exc)
        except Exception:  # the worker must outlive any one failure
            log.exception("presence of %s not announced", identity)
