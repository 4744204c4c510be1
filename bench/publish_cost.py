"""``python -m bench.publish_cost``: Redis's time per published message, by group size.

Publishes through the real :class:`~webapp.events.redis_broker.RedisBroker` into a private,
empty ``redis-server`` and reads what Redis itself counted: the time spent inside the publish
script (``INFO commandstats``, ``cmdstat_evalsha``'s ``usec``) and its whole CPU (``INFO
cpu``, which adds reading and answering the call). Nothing listens, so no wake-up is sent
to a worker: this is the script's own cost, what a broadcast costs Redis per message. Run
it once per tree, alternating the trees back to back: a virtual machine's speed can drift by
half within an hour (docs/benchmarks.md, "Publishes sent together").
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench import procs
from bench.memory import _message
from webapp.events.redis_broker import RedisBroker, connect


def _script_usec(client: Any) -> int:
    return int(client.info("commandstats").get("cmdstat_evalsha", {}).get("usec", 0))


def measure(group: int, messages: int) -> dict[str, float]:
    """Redis's µs per message to ``group`` users whose logs exist (a running site's)."""
    server = procs.start_redis()
    client = server.client()
    broker = RedisBroker(connect(server.url), server.url)
    try:
        procs.wait_for(broker.live, 10, "the broker's subscription")
        users = [f"u{k}" for k in range(group)]
        for k in range(3):  # their logs and metas exist, their expiries were set
            broker.publish(_message("CH" + "0" * 32, k, users[0]), users)
        usec, cost = _script_usec(client), procs.redis_cost([server.port])
        for k in range(messages):
            broker.publish(_message("CH" + "1" * 32, k, users[0]), users)
        usec_after, cost_after = _script_usec(client), procs.redis_cost([server.port])
    finally:
        broker.close()
        server.stop()
    return {
        "group": group,
        "messages": messages,
        "script_us_per_msg": round((usec_after - usec) / messages, 1),
        "script_us_per_recipient": round((usec_after - usec) / messages / group, 2),
        "redis_cpu_us_per_msg": round((cost_after.cpu_s - cost.cpu_s) * 1e6 / messages, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", default="2,1000", help="group sizes, comma-separated")
    parser.add_argument("--messages", type=int, default=2000, help="to a group of 2")
    parser.add_argument("--label", default="", help="what tree this is, for the record")
    parser.add_argument("--out", help="append the results as JSON lines here")
    opts = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = Path("/proc/loadavg").read_text().split()[0]
    for group in (int(g) for g in opts.groups.split(",")):
        messages = max(100, opts.messages * 2 // group)
        result = measure(group, messages)
        print(json.dumps(result))
        if opts.out:
            with open(opts.out, "a") as out:
                record = {"at": started, "bench": "publish_cost", "label": opts.label}
                out.write(json.dumps({**record, "load": load, **result}) + "\n")


if __name__ == "__main__":
    main()
