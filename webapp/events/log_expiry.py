"""When a publish must push out its recipients' log expiry, decided in the publishing process.

A user's log (and its epoch key) must outlive its newest event by the log's age limit. Pushing
the expiry out on every event would cost each recipient of a message two more Redis commands,
and reading when it was last pushed out costs one (inside the publish script, each command's
Lua call is most of a recipient's cost: docs/benchmarks.md, "What a log entry costs Redis").
So each process remembers when it last pushed out each user's expiry, and asks the script to do
it again only once that is :attr:`LogExpiry.every` seconds old. The expiry set is the age limit
plus twice that interval: whichever process published a user's newest event had pushed their
expiry out at most one interval before, so the log outlives that event by the age limit at
least, with an interval to spare (a publish that failed is forgotten, so it never counts).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

#: The longest a process goes without pushing out the expiry of a user it publishes to.
REFRESH_SECONDS = 60.0


class LogExpiry:
    """The expiry of the logs this process writes to: how long, and whose is due."""

    def __init__(
        self,
        max_age: int,
        every: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        #: How often a user's expiry is pushed out: at most a tenth of the age limit, so
        #: the margin stays small for a short limit.
        self.every = min(every, max_age / 10)
        #: The expiry to set, in whole seconds.
        self.seconds = max_age + math.ceil(2 * self.every)
        self._clock = clock
        self._pushed: dict[str, float] = {}
        self._pruned = clock()

    def due(self, identities: Iterable[str]) -> list[str]:
        """The identities whose expiry this publish must push out, noted as pushed now."""
        now = self._clock()
        if now - self._pruned > self.every:
            self._prune(now)
        stale = now - self.every
        pushed = self._pushed
        due = [who for who in identities if pushed.get(who, -math.inf) <= stale]
        for who in due:
            pushed[who] = now
        return due

    def forget(self, identities: Iterable[str]) -> None:
        """The publish that was to push these out failed: they are due again."""
        for who in identities:
            self._pushed.pop(who, None)

    def _prune(self, now: float) -> None:
        """Forget users not published to for an interval (they are due anyway): the map holds
        only this process's recent recipients."""
        stale = now - self.every
        self._pushed = {who: at for who, at in self._pushed.items() if at > stale}
        self._pruned = now
