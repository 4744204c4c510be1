"""``python -m bench.log_write_cost``: what a large group's log writes cost Redis, by shape.

A message to a group of N is one log entry per member (the resume contract: one log per user).
Inside the publish script, most of that cost is not the commands but Lua's call around each
(``docs/benchmarks.md``, "What a log entry costs Redis"). This runs, in one private
``redis-server`` and in alternating rounds, today's publish script and a few loops over the
same recipients that differ only in the commands each recipient costs, so that a new log
layout can be judged by its figures before it is built:

- ``today``: the real publish script (one ``XADD`` per recipient whose seq Redis assigns, ids
  ``0-<seq>``, with ``MAXLEN ~``; no expiry due);
- ``three commands``: the previous layout's (``HMGET`` epoch and expiry time, ``HINCRBY`` seq,
  ``XADD`` with an explicit id and ``MAXLEN ~``);
- ``hincrby+xadd``: the same without the ``HMGET``;
- ``xadd 0-*, no maxlen``: today's command, trimming left to another command;
- ``loop``: the script's own work per recipient (key names, the id line), no command.

Reported per shape: Redis's time inside the script per recipient (``INFO commandstats``,
``cmdstat_evalsha``) and the share of it spent in the commands themselves.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench import procs
from webapp.events import redis_broker

# ARGV as the real script's: event, fresh epoch, maxlen, expiry, now_ms, channel, once key,
# once ttl, tag, shared body key, the identities whose expiry is due, then the identities, one
# per line.
_LOOP_HEAD = """
local recipients = {}
for who in string.gmatch(ARGV[12], '[^\\n]+') do
  recipients[#recipients + 1] = who
end
redis.call('SET', ARGV[10], ARGV[1], 'EX', ARGV[4])
local lines = {'t', ARGV[1]}
local now, maxlen, tag, ref = ARGV[5], ARGV[3], ARGV[9], ARGV[10]
for _, who in ipairs(recipients) do
  local meta, log = 'parley:u:{' .. who .. '}:meta', 'parley:u:{' .. who .. '}:log'
"""
_LOOP_TAIL = """
end
redis.call('PUBLISH', ARGV[6], table.concat(lines, '\\n'))
return #lines
"""

SHAPES: dict[str, str] = {
    "today": redis_broker._PUBLISH,
    "three commands": _LOOP_HEAD
    + """
  local head = redis.call('HMGET', meta, 'epoch', 'x')
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  redis.call('XADD', log, 'MAXLEN', '~', maxlen, seq .. '-1', 't', now, 'r', ref, 'g', tag)
  lines[#lines + 1] = who .. ' ' .. (head[1] or ARGV[2]) .. '-' .. seq .. '.' .. tag
"""
    + _LOOP_TAIL,
    "hincrby+xadd": _LOOP_HEAD
    + """
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  redis.call('XADD', log, 'MAXLEN', '~', maxlen, seq .. '-1', 't', now, 'r', ref, 'g', tag)
  lines[#lines + 1] = who .. ' ' .. ARGV[2] .. '-' .. seq .. '.' .. tag
"""
    + _LOOP_TAIL,
    "xadd 0-*, no maxlen": _LOOP_HEAD
    + """
  local id = redis.call('XADD', log, '0-*', 't', now, 'r', ref, 'g', tag)
  lines[#lines + 1] = who .. ' ' .. id .. '.' .. tag
"""
    + _LOOP_TAIL,
    "loop": _LOOP_HEAD
    + """
  lines[#lines + 1] = who .. ' ' .. ARGV[2] .. '-' .. #meta .. #log .. '.' .. tag
"""
    + _LOOP_TAIL,
}


def _args(users: str, n: int) -> list[Any]:
    event = json.dumps({"type": "message_added", "data": {"body": "a message " * 8}})
    now = int(time.time() * 1000)
    return [event, "0badcafe", 1000, 86400, now, "parley:events", "", 3600, "deadbeef",
            f"parley:ev:{n:016x}", "", users]  # fmt: skip


def measure(group: int, messages: int, rounds: int) -> list[dict[str, Any]]:
    """Each shape, ``rounds`` times in turn, ``messages`` publishes to ``group`` users whose
    logs already hold entries (a running site's)."""
    server = procs.start_redis()
    client = server.client()
    users = "\n".join(f"user{k}@example.com" for k in range(group))
    shas = {name: client.script_load(text) for name, text in SHAPES.items()}
    results = []
    try:
        for round_no in range(rounds):
            for name, sha in shas.items():
                client.flushall()
                for n in range(3):
                    client.evalsha(sha, 0, *_args(users, n))
                client.config_resetstat()
                for n in range(messages):
                    client.evalsha(sha, 0, *_args(users, 3 + n))
                stats = client.info("commandstats")
                script = int(stats["cmdstat_evalsha"]["usec"])
                commands = sum(
                    int(v["usec"]) for k, v in stats.items() if k not in ("cmdstat_evalsha",)
                )
                per = messages * group
                results.append(
                    {
                        "shape": name,
                        "round": round_no,
                        "group": group,
                        "script_us_per_recipient": round(script / per, 2),
                        "commands_us_per_recipient": round(commands / per, 2),
                    }
                )
                print(json.dumps(results[-1]))
    finally:
        server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--label", default="", help="free text kept with the results")
    parser.add_argument("--out", help="append the results as JSON lines here")
    opts = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = Path("/proc/loadavg").read_text().split()[0]
    results = measure(opts.group, opts.messages, opts.rounds)
    if opts.out:
        with open(opts.out, "a") as out:
            for result in results:
                record = {"at": started, "bench": "log_write_cost", "label": opts.label}
                out.write(json.dumps({**record, "load": load, **result}) + "\n")


if __name__ == "__main__":
    main()
