"""``python -m bench.memory``: what Parley keeps in Redis, in bytes, per thing it keeps.

Publishes through the real :class:`~webapp.events.redis_broker.RedisBroker` (its Lua script)
into a private, empty ``redis-server`` and reads ``used_memory`` before and after each batch:
per webhook de-duplication key, per logged event of a 1:1 chat, per message to a group of
1,000 (its text stored once, and, for comparison, a copy in every log), per idle user, per
conversation's catch-up mark. Memory is deterministic enough that a busy machine does not
change the answer (unlike the speed benchmarks).
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench import procs
from webapp.events import redis_broker
from webapp.events.redis_broker import RedisBroker, connect
from webapp.events.types import Event


def _message(conversation_sid: str, index: int, author: str) -> Event:
    """A message event as a webhook publishes it: 60 characters of text, no media."""
    return Event(
        "message_added",
        {
            "conversation_sid": conversation_sid,
            "message": {
                "sid": "IM" + secrets.token_hex(16),
                "index": index,
                "conversation_sid": conversation_sid,
                "author": author,
                "body": "See you at the station at six, I'll bring the tickets along.",
                "media": [],
                "delivery": None,
                "attributes": {},
                "edited": False,
                "date_created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "date_updated": None,
                "source": "CHAT",
            },
        },
    )


def _per(client: Any, count: int, work: Callable[[], None]) -> float:
    """Bytes of ``used_memory`` that ``work`` added, per each of its ``count`` things."""
    before = int(client.info("memory")["used_memory"])
    work()
    after = int(client.info("memory")["used_memory"])
    return (after - before) / count


def measure(n: int) -> dict[str, float]:
    server = procs.start_redis()
    client = server.client()
    broker = RedisBroker(connect(server.url), server.url)
    results: dict[str, float] = {}
    try:
        procs.wait_for(broker.live, 10, "the broker's subscription")
        # Users with a log already (their meta and stream exist), as in a running site.
        pairs = [(f"a{k}", f"b{k}") for k in range(n)]
        for a, b in pairs:
            broker.publish(Event("warm", {}), [a, b])

        def dedupe_keys() -> None:
            for _ in range(n):
                broker.publish(Event("x", {}), [], once=f"added:IM{secrets.token_hex(16)}:0")

        results["dedupe key (bytes)"] = _per(client, n, dedupe_keys)

        # Several messages per pair: a log grows by whole allocations (its listpack nodes),
        # which one entry per log would hide or exaggerate.
        rounds = 20
        chatting = pairs[: max(1, n // rounds)]

        def chat_messages() -> None:
            for r in range(rounds):
                for k, (a, b) in enumerate(chatting):
                    event = _message(f"CH{k:032x}", r + 1, a)
                    broker.publish(event, [a, b], f"added:IM{secrets.token_hex(16)}:0")

        per_message = _per(client, rounds * len(chatting), chat_messages)
        results["1:1 message: dedupe key + 2 log entries (bytes)"] = per_message
        results["1:1 logged event, without its dedupe key (bytes)"] = (
            per_message - results["dedupe key (bytes)"]
        ) / 2

        def marks() -> None:
            for k in range(n):
                broker.marks.note(f"CH{k:032x}", 1, None, True)  # as a first webhook leaves it

        results["conversation's catch-up mark (bytes)"] = _per(client, n, marks)

        group = [f"g{k}" for k in range(1000)]
        broker.publish(Event("warm", {}), group)
        messages = max(1, n // 100)

        def group_messages() -> None:
            for k in range(messages):
                broker.publish(_message("CH" + "9" * 32, k, group[0]), group)

        results["message to 1,000, text stored once (bytes)"] = _per(
            client, messages, group_messages
        )
        shared_min = redis_broker.SHARED_BODY_MIN
        redis_broker.SHARED_BODY_MIN = 10**9  # every log keeps its own copy
        try:
            results["message to 1,000, a copy per log (bytes)"] = _per(
                client, messages, group_messages
            )
        finally:
            redis_broker.SHARED_BODY_MIN = shared_min

        def idle_users() -> None:
            for k in range(n):
                broker.cursor(f"idle{k}")  # a stream opened once: its log's identity

        results["idle user who opened a stream (bytes)"] = _per(client, n, idle_users)
    finally:
        broker.close()
        server.stop()
    return {key: round(value, 1) for key, value in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="things of each kind")
    parser.add_argument("--out", help="append the results as one JSON line here")
    opts = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results = measure(opts.n)
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value:>10,.1f}")
    if opts.out:
        with open(opts.out, "a") as out:
            out.write(json.dumps({"at": started, "n": opts.n, **results}) + "\n")


if __name__ == "__main__":
    main()
