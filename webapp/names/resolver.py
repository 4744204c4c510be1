"""Identities to display names, for a page at a time.

Where a name comes from, first found wins: Parley's users table (the name the host sent at
sign-in; a password account's username), then Twilio's User ``friendly_name`` (the host
may name its users there before they ever sign in to Parley), else the identity itself.

The table is asked on every call, in one ``IN`` query per page: it is cheap, and a name
changed at sign-in shows at once. Twilio is asked one User at a time (it has no batch read),
so its answers, misses included, are kept in this process for :data:`TWILIO_TTL_SECONDS`, and
one call asks it about at most :data:`TWILIO_LOOKUPS_PER_CALL` identities: a page that names
more shows the rest as identities until a later call. A Twilio that cannot answer is not an
error here: the identity stands in, and is asked again on the next call.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable

from webapp.extensions import db
from webapp.models import User, is_valid_identity
from webapp.twilio_gateway import GatewayError

log = logging.getLogger(__name__)

TWILIO_TTL_SECONDS = 300.0
TWILIO_LOOKUPS_PER_CALL = 20
#: Entries kept at most; the oldest go first. Bounds memory on a site with many users.
MAX_CACHED = 10_000
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")

TwilioLookup = Callable[[str], str | None]


def is_phone(value: str) -> bool:
    """SMS participants are named by their number, which is what people know them by."""
    return bool(_PHONE.fullmatch(value))


class NameResolver:
    """Thread-safe (gevent workers share it); the clock is a parameter for the tests."""

    def __init__(self, lookup: TwilioLookup, clock: Callable[[], float] = time.monotonic) -> None:
        self._lookup = lookup
        self._clock = clock
        self._lock = threading.Lock()
        self._twilio: dict[str, tuple[str | None, float]] = {}

    def names(self, identities: Iterable[str | None]) -> dict[str, str]:
        wanted = sorted({i for i in identities if i and is_valid_identity(i) and not is_phone(i)})
        if not wanted:
            return {}
        found = self._from_table(wanted)
        missing = [i for i in wanted if i not in found]
        found.update(self._from_twilio(missing))
        return {identity: found.get(identity) or identity for identity in wanted}

    def forget(self, identity: str) -> None:
        """Drop what Twilio said about ``identity`` (its name just changed here)."""
        with self._lock:
            self._twilio.pop(identity, None)

    def _from_table(self, identities: list[str]) -> dict[str, str]:
        """Named users, and password accounts (Parley's own: their username is their name,
        and Twilio has nothing better). A host's user signed in without a name is left to
        Twilio, where the host may have named them."""
        own_account = User.password_hash != ""
        rows = db.session.execute(
            db.select(User.identity, User.display_name, own_account).where(
                User.identity.in_(identities)
            )
        ).all()
        return {
            identity: name or identity
            for identity, name, has_password in rows
            if name or has_password
        }

    def _from_twilio(self, identities: list[str]) -> dict[str, str]:
        now = self._clock()
        found: dict[str, str] = {}
        to_ask: list[str] = []
        with self._lock:
            for identity in identities:
                cached = self._twilio.get(identity)
                if cached is not None and cached[1] > now:
                    if cached[0]:
                        found[identity] = cached[0]
                else:
                    to_ask.append(identity)
        for identity in to_ask[:TWILIO_LOOKUPS_PER_CALL]:
            try:
                name = self._ask_twilio(identity)
            except GatewayError as error:
                log.warning("name of %r not read from Twilio: %s", identity, error.message)
                continue
            self._remember(identity, name, now + TWILIO_TTL_SECONDS)
            if name:
                found[identity] = name
        return found

    def _ask_twilio(self, identity: str) -> str | None:
        return self._lookup(identity)

    def _remember(self, identity: str, name: str | None, until: float) -> None:
        with self._lock:
            self._twilio.pop(identity, None)
            self._twilio[identity] = (name, until)
            while len(self._twilio) > MAX_CACHED:
                del self._twilio[next(iter(self._twilio))]
