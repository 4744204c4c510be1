"""``--scenario openings``: a burst of stream openings, as after a network blip or a failover.

N authenticated ``GET /stream`` are started at a fixed rate (open loop: one every 1/rate s,
whatever the server answers), each by a client that behaves as ``EventSource`` does: a stream
the server ends is opened again after the ``retry:`` delay it last set (3 s if none), with its
``Last-Event-ID``; a network error is retried too; a non-200 answer is final. A stream counts
as open once it got its ``resumed`` or ``resync``; one that ends with ``: busy`` before that
was turned away by the worker (``webapp/stream/admission.py``).

Reported: the answers by status (any 5xx is a failure), how many were turned away, how many
streams are open at the end and how long after the first opening the last one opened.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bench import procs
from bench.streams import SseStream, StreamPool
from bench.tally import Tally

#: EventSource's reconnect delay when the server set none (browsers use about 3 s).
DEFAULT_RETRY_S = 3.0


async def run_openings(
    port: int, requests: list[bytes], rate: float, limit_s: float, worker: int, tally: Tally
) -> tuple[StreamPool, dict[str, Any]]:
    """Open ``requests`` at ``rate`` per second and wait (at most ``limit_s``) until every
    stream is open or has failed for good; the pool is returned still holding them."""
    pool = StreamPool(port, tally)
    pool.reconnect_after = DEFAULT_RETRY_S
    stats = pool.stats
    loop = asyncio.get_running_loop()
    load_before = _load()
    cpu_before = procs.cpu_seconds(worker)
    peak_rss = 0
    started = time.monotonic()

    async def open_one(index: int, request: bytes) -> None:
        try:
            _, stream = await loop.create_connection(
                lambda: SseStream(request, tally, stats, pool, index), "127.0.0.1", port
            )
        except OSError:
            stats.failed += 1
            return
        pool.streams[index] = stream

    tasks = []
    for index, request in enumerate(requests):
        delay = started + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(open_one(index, request)))
    offered_s = time.monotonic() - started
    await asyncio.gather(*tasks)

    def final() -> int:
        """Streams that can still come to be open: not yet open and not given up on."""
        given_up = sum(n for status, n in stats.statuses.items() if status != 200)
        return len(requests) - len(stats.established) - given_up

    deadline = started + limit_s
    while final() > 0 and time.monotonic() < deadline:
        peak_rss = max(peak_rss, procs.rss_kb(worker))
        await asyncio.sleep(0.25)
    wall = time.monotonic() - started
    record = {
        "scenario": "openings",
        "streams": len(requests),
        "rate": rate,
        "offered_s": round(offered_s, 2),
        "statuses": dict(sorted(stats.statuses.items())),
        "answers_5xx": sum(n for status, n in stats.statuses.items() if status >= 500),
        "turned_away": stats.turned_away,
        "network_errors": stats.failed
        - sum(n for status, n in stats.statuses.items() if status != 200),
        "open": len(stats.established),
        "all_open_s": round(stats.last_established_at - started, 2)
        if len(stats.established) == len(requests)
        else None,
        "server_cpu": round((procs.cpu_seconds(worker) - cpu_before) / wall, 2),
        "rss_peak_kb": peak_rss,
        "load_avg_before": load_before,
        "load_avg_after": _load(),
    }
    return pool, record


def print_openings(r: dict[str, Any]) -> None:
    print(
        f"  openings: {r['streams']} at {r['rate']:g}/s (offered in {r['offered_s']} s): "
        f"answers {r['statuses']}, 5xx {r['answers_5xx']}, turned away {r['turned_away']}, "
        f"network errors {r['network_errors']}; open {r['open']}/{r['streams']}, all open "
        f"after {r['all_open_s']} s; worker CPU {r['server_cpu']}, peak RSS "
        f"{r['rss_peak_kb'] / 1024:.0f} MiB; load {r['load_avg_before']} -> "
        f"{r['load_avg_after']}",
        flush=True,
    )


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
