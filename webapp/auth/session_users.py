"""Whose a session cookie is, remembered for a few seconds: the stream's lean path asks it
instead of loading the user row for every reconnect of the same session.

Why it pays: a page that reconnects (a deploy, a network blip, a turned-away opening coming
back, every tab of a browser) opens ``/stream`` with the same cookie again and again within
seconds, and loading the user through the ORM was about a fifth of an opening's CPU
(``docs/benchmarks.md``, "A deploy under load"). A miss costs one indexed ``SELECT`` of two
columns, through the engine's pool but not the ORM.

Why it is safe:

* The key is the session id the signed cookie carries, ``<user id>:<session version>``
  (``User.get_id``). Logging out everywhere bumps the version (``end_sessions``), so the
  cookies it voids name a key that is never current again; nothing else changes who a row is
  (identities never change, and rows are never deleted while signed in).
* An entry lives :data:`TTL_S` seconds at most, and the cache holds at most :data:`MAX_ENTRIES`
  (full, it is emptied: a bound, not an LRU).
* ``end_sessions`` forgets the user's entries in its own process at once. In the others, it
  ends the user's open streams (the broker's "close" message), and each stream that ends
  forgets its user's entries (``webapp/stream/routes.py``), as does an opening that fails
  after its look-up (``webapp/stream/fast_path.py``). An entry is made by an opening that then
  holds a stream, so a logout elsewhere reaches it through that stream; it can outlive the
  logout only for the milliseconds between the close and the stream's end, the same order
  as the window the uncached route has between loading the user and subscribing.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine, bindparam, select

from webapp.models import User, parse_session_id

#: Seconds an entry is trusted: the length of a reconnect wave, far shorter than a session.
TTL_S = 5.0
#: Entries at most (each a short string and a float): a wave of 10,000 sessions and more.
MAX_ENTRIES = 50_000

_BY_ID = select(User.identity, User.session_version).where(User.id == bindparam("id"))


class SessionUsers:
    """Session id -> identity, for :data:`TTL_S` seconds."""

    def __init__(self, engine: Engine, ttl_s: float = TTL_S, max_entries: int = MAX_ENTRIES):
        self._engine = engine
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._entries: dict[str, tuple[str, float]] = {}
        self._keys_of: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def identity(self, session_id: str) -> str | None:
        """The identity of the current user ``session_id`` names, or None (no such user, or
        the cookie was voided): ``User.from_session_id``'s answer, remembered."""
        now = time.monotonic()
        hit = self._entries.get(session_id)
        if hit is not None and hit[1] > now:
            return hit[0]
        identity = self._load(session_id)
        if identity is not None:
            self._remember(session_id, identity, now + self._ttl_s)
        return identity

    def forget(self, identity: str) -> None:
        """Drop every entry of ``identity`` (its sessions were ended, or a stream of it ended)."""
        with self._lock:
            for key in self._keys_of.pop(identity, ()):
                self._entries.pop(key, None)

    def _load(self, session_id: str) -> str | None:
        key = parse_session_id(session_id)
        if key is None:
            return None
        with self._engine.connect() as connection:
            row = connection.execute(_BY_ID, {"id": key[0]}).first()
        return row.identity if row is not None and row.session_version == key[1] else None

    def _remember(self, session_id: str, identity: str, until: float) -> None:
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
                self._keys_of.clear()
            self._entries[session_id] = (identity, until)
            self._keys_of.setdefault(identity, set()).add(session_id)
