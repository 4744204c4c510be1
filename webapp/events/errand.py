"""A Redis script of another part of the app that a stream's opening carries with its read of
the user's log: one round trip for both on one Redis (``RedisBroker.replay``).

Why: on a deploy every open page reconnects at once, and each opening read the log and then,
in a round trip of its own, recorded the user's presence; each round trip is CPU in the
worker (the pool, the command, the reply) that the wave is short of (``docs/benchmarks.md``,
"A deploy wave with the lean stream opening"). The broker knows nothing of presence: it sends
the script it is given and hands the reply back.

Measured (``python -m bench.opening_cost``, lean path, openings without a cursor: the log's
read was one round trip already, so this saves presence's; interleaved runs on the shared
2-core machine at load 5-8): 0.89-1.19 ms of CPU per opening, against 1.05-1.30 ms with
presence in its own round trip. An opening with a cursor behind the log saves two or three
round trips more (the entry it names, the first page, the texts that page points at).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from webapp.events.redis_errors import REDIS_ERRORS


@dataclass(frozen=True)
class Errand:
    """A registered script (redis-py's ``Script``), its keys and arguments, and what to do
    with its reply, or with the Redis error it met instead (an errand never fails the
    opening that carries it)."""

    script: Any
    keys: list[str]
    args: list[Any]
    done: Callable[[Any], None]

    def run(self) -> None:
        """Send it on its own: where it cannot share the log's round trip (a cluster, whose
        slots differ), or with nothing to share it with."""
        try:
            reply = self.script(keys=self.keys, args=self.args)
        except REDIS_ERRORS as exc:
            reply = exc
        self.done(reply)
