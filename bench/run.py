"""``python -m bench.run``: hold N streams on gevent workers, drive signed webhooks, report.

Examples (see ``docs/benchmarks.md``)::

    python -m bench.run --scenario chat --streams 10000 --rate 1000 --duration 30
    python -m bench.run --scenario broadcast --streams 1000 --rate 50,100,200 --target both
    python -m bench.run --scenario broadcast --streams 1000 --rate 60 --target parley,hub,flask-sse
    python -m bench.run --scenario chat --streams 200 --rate 0 --duration 10   # intake
    python -m bench.run --scenario openings --streams 10000 --rate 1000,2000 --duration 600
    python -m bench.run --scenario chat --streams 10000 --rate 300 --workers 4 --cluster

Each run starts its own redis-server (or Redis Cluster) and gunicorn on free 127.0.0.1 ports
and stops them at the end; only 127.0.0.1 is ever contacted, and every loop is bounded in count
and time.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import requests

from bench import cluster, procs, profile, seed
from bench.hearing import Hearing
from bench.openings import print_openings, run_openings
from bench.streams import StreamPool
from bench.tally import Tally
from bench.webhooks import Target, WebhookSender

AUTH_TOKEN = "bench-webhook-token-0123456789ab"
PASSWORD = "bench-password-123"
METRICS_TOKEN = "bench-metrics-token-0123456789ab"
BROADCAST_CAP = 1000  # Twilio's participants-per-conversation limit
#: The peers, by target name: their WSGI apps, served under Parley's gunicorn settings.
PEERS = {"flask-sse": "bench.flask_sse_app:app", "hub": "bench.hub_app:app"}
TARGETS = ("parley", *PEERS)
#: Streams opened alone on the hub before the batches: its first join makes its pub/sub
#: connection, and joins racing that one (redis-py's ``PubSub`` under gevent) each make a
#: connection of their own, of which the hub reads only the last.
HUB_LEAD = 1
T = TypeVar("T")


@dataclass(frozen=True)
class Options:
    scenario: str
    targets: list[str]
    streams: int
    rates: list[float]
    duration: float
    connections: int
    batch: int
    drain: float
    max_messages: int
    py_spy: Path | None
    out: Path | None
    label: str
    worker_connections: int | None
    settle: float = 0.0
    restart: bool = False
    workers: int = 1
    cluster: bool = False
    hub: Path | None = None


def _raise_fd_limit() -> None:
    """10,000 streams need 10,000 sockets here and in the server (which inherits this)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _versions(hub: Path | None) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    redis_version = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True, check=False
    ).stdout.split()
    found = {"python": sys.version.split()[0]}
    for dist in ("gunicorn", "gevent", "flask", "redis", "flask-sse", "twilio"):
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:  # flask-sse is needed only for --target flask-sse
            found[dist] = "not installed"
    found["redis-server"] = next((w[2:] for w in redis_version if w.startswith("v=")), "?")
    try:
        import uvloop

        found["client loop"] = f"uvloop {uvloop.__version__}"
    except ImportError:
        found["client loop"] = "asyncio"
    if hub is not None:
        digest = hashlib.sha256(hub.read_bytes()).hexdigest()[:12]
        found["limit_hub"] = f"{hub.name} (sha256 {digest})"  # no machine paths in records
    return found


class Sampler:
    """Peaks of Redis connections and workers' RSS (summed) while load runs (every 0.5 s)."""

    def __init__(self, redis_server: procs.RedisServer | cluster.ClusterServer, pids: list[int]):
        self._redis = redis_server
        self._pids = pids
        self.max_redis_clients = 0
        self.max_rss_kb = 0
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        self.max_redis_clients = max(self.max_redis_clients, self._redis.connected_clients())
        self.max_rss_kb = max(self.max_rss_kb, sum(procs.rss_kb(pid) for pid in self._pids))

    async def _loop(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.5)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


async def _drain(tally: Tally, seconds: float) -> float:
    """Wait (bounded) for every promised delivery; returns how long it took."""
    start = time.monotonic()
    while tally.pending() > 0 and time.monotonic() - start < seconds:
        await asyncio.sleep(0.02)
    return time.monotonic() - start


class Setup:
    """The server under test, its streams' requests and the conversations to message."""

    def __init__(self, target: str, opts: Options, workdir: Path) -> None:
        self.target = target
        self.opts = opts
        self.workdir = workdir
        self.redis: procs.RedisServer | cluster.ClusterServer = (
            cluster.start_cluster() if opts.cluster else procs.start_redis()
        )
        self.port = procs.free_port()
        self.server: procs.GunicornServer | None = None
        self.emulator: procs.EmulatorServer | None = None
        self.targets: list[Target] = []
        self.requests: list[bytes] = []
        self.channels: list[str] = []

    def groups(self, names: list[str]) -> list[list[str]]:
        if self.opts.scenario == "broadcast":
            return [names]
        return [names[i : i + 2] for i in range(0, len(names) - 1, 2)]

    def start(self, pool: StreamPool) -> None:
        env = procs.base_env(
            HOST="127.0.0.1",
            PORT=str(self.port),
            SECRET_KEY=secrets.token_hex(32),
            TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            WEB_CONCURRENCY=str(self.opts.workers),
            DATABASE_URL=f"sqlite:///{self.workdir / 'parley.sqlite3'}",
            METRICS_TOKEN=METRICS_TOKEN,
        )
        names = seed.usernames(self.opts.streams)
        log_path = self.workdir / f"{self.target}.log"
        wc = self.opts.worker_connections
        extra = ("--worker-connections", str(wc)) if wc else ()
        if self.target in PEERS:
            assert isinstance(self.redis, procs.RedisServer)
            env["REDIS_URL"] = self.redis.url
            env["PARLEY_BENCH_HUB"] = str(self.opts.hub)
            self.server = procs.start_gunicorn(
                PEERS[self.target], env, self.port, log_path, "/health", extra, self.opts.workers
            )
            for group in self.groups(names):
                sid = "CH" + secrets.token_hex(16)
                self.channels.append(sid)
                self.targets.append(Target(sid, group[0], len(group)))
                self.requests += [pool.request(f"/stream?channel={sid}", None)] * len(group)
            return
        step = time.monotonic()
        ids = seed.create_users(env, names, PASSWORD)  # no REDIS_URL: it only needs the DB
        print(f"  users: {len(ids)} in {time.monotonic() - step:.1f}s", flush=True)
        # Twilio's emulator in a process of its own, as Twilio is: the worker's CPU is then
        # Parley's alone, and Twilio's state outlives the worker (``--restart``).
        self.emulator = procs.start_emulator(env, self.workdir / "emulator.log")
        emulator_url = env["TWILIO_EMULATOR_URL"] = self.emulator.url
        env["REDIS_URL"] = self.redis.url
        if self.opts.cluster:
            env["REDIS_CLUSTER"] = "1"
        self.server = procs.start_gunicorn(
            "wsgi:app", env, self.port, log_path, "/login", extra, self.opts.workers
        )
        minter = seed.CookieMinter(
            env["SECRET_KEY"], seed.login_through_form(self.server.url, names[0], PASSWORD)
        )
        self.requests = [pool.request("/stream", minter.cookie(ids[n])) for n in names]
        if self.opts.scenario == "openings":
            return  # no conversations: only the openings are measured
        step = time.monotonic()
        groups = self.groups(names)
        emulator = seed.EmulatorConversations(emulator_url, AUTH_TOKEN)
        sids = emulator.create_many(groups)
        print(f"  conversations: {len(sids)} in {time.monotonic() - step:.1f}s", flush=True)
        self.targets = [Target(sid, g[0], len(g)) for sid, g in zip(sids, groups, strict=True)]

    async def confirmed(self) -> int:
        """A peer's streams subscribed in Redis (neither sends an event before its first).

        Flask-SSE subscribes one connection per stream. The hub subscribes each channel once,
        on its one pub/sub connection, for all the channel's streams: its own count of streams
        holds once that connection has every channel the hub had when asked (Redis takes them
        in order). A second pub/sub connection means joins raced the hub's first one (see
        :data:`HUB_LEAD`): the streams on the others would never hear a message."""
        assert isinstance(self.redis, procs.RedisServer) and self.server is not None
        if self.target != "hub":
            with self.redis.client() as client:
                return sum(int(n) for _, n in client.pubsub_numsub(*self.channels))
        hub = requests.get(self.server.url + "/stats", timeout=10).json()
        with self.redis.client() as client:
            subs = [int(c["sub"]) for c in client.client_list() if int(c.get("sub", 0))]
        if len(subs) > 1:
            raise RuntimeError(f"the hub holds {len(subs)} pub/sub connections, not one (HUB_LEAD)")
        return int(hub["clients"]) if subs and subs[0] >= int(hub["channels"]) else 0

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.emulator is not None:
            self.emulator.stop()
        self.redis.stop()


async def run_target(target: str, opts: Options) -> list[dict[str, Any]]:
    """One server under test: set up, open streams, warm up, then one phase per rate."""
    print(f"== {target}: {opts.scenario}, {opts.streams} streams", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"parley-bench-{target}-"))
    counts = [
        min(opts.max_messages, int(r * opts.duration) if r > 0 else opts.max_messages)
        for r in opts.rates
    ]
    restart_count = counts[0] if opts.restart and target == "parley" else 0
    setup = Setup(target, opts, workdir)
    tally = Tally(capacity=opts.streams + sum(counts) + restart_count + 1)
    pool = StreamPool(setup.port, tally)
    records: list[dict[str, Any]] = []
    try:
        setup.start(pool)
        assert setup.server is not None
        if opts.scenario == "openings":
            return await _openings(opts, setup, tally, setup.server.worker_pid)
        pids = setup.server.worker_pids
        rss_before = _rss(pids)
        step = time.monotonic()
        confirm = setup.confirmed if target in PEERS else None
        if target == "parley":  # as EventSource: a stream turned away (`: busy`) comes back
            pool.reconnect_after = RETRY_S
        lead = HUB_LEAD if target == "hub" else 0
        await pool.open(
            setup.requests, opts.batch, confirm, timeout=120 + opts.streams / 50, lead=lead
        )
        if target == "parley":
            await _established(pool, opts.streams, 120 + opts.streams / 50)
        open_s = time.monotonic() - step
        await asyncio.sleep(2.0)
        rss_idle = _rss(pids)
        redis_idle = setup.redis.connected_clients()
        subscribed = await setup.confirmed() if target in PEERS else len(pool.stats.established)
        print(
            f"  streams: {subscribed}/{opts.streams} open in {open_s:.1f}s; "
            f"RSS {rss_before / 1024:.1f} -> {rss_idle / 1024:.1f} MiB; "
            f"redis clients {redis_idle}",
            flush=True,
        )
        sender = WebhookSender(setup.port, AUTH_TOKEN, tally)
        warm = await sender.run(
            setup.targets, 0, len(setup.targets), 0, 120, min(opts.connections, 16)
        )
        await _drain(tally, 30)
        print(
            f"  warm-up: {warm.accepted}/{len(setup.targets)} webhooks in {warm.seconds:.1f}s, "
            f"{tally.phase_received}/{tally.phase_expected} delivered",
            flush=True,
        )
        settle_s = await _settle(pids, opts.settle) if opts.settle else 0.0
        first = len(setup.targets)
        peer_channels = setup.channels if target in PEERS else None
        hearing = Hearing(setup.server.url, METRICS_TOKEN, setup.redis, peer_channels)
        for rate, count in zip(opts.rates, counts, strict=True):
            heard_before = await hearing.read()
            tally.begin_phase(first)
            sampler = Sampler(setup.redis, pids)
            sampler.start()
            spy = None
            if opts.py_spy:
                path = opts.py_spy.with_name(f"{opts.py_spy.stem}-{target}{opts.py_spy.suffix}")
                spy = profile.start(pids[0], path, opts.duration, rate)  # the first worker
            redis_before = setup.redis.cost()
            cpu0 = _cpu(pids), time.process_time(), time.monotonic()
            sent = await sender.run(
                setup.targets, first, count, rate, opts.duration, opts.connections
            )
            drain_s = await _drain(tally, opts.drain)
            redis_cost = redis_before.per_message(setup.redis.cost(), sent.accepted)
            wall = time.monotonic() - cpu0[2]
            server_cpu = (_cpu(pids) - cpu0[0]) / wall
            client_cpu = (time.process_time() - cpu0[1]) / wall
            sampler.sample()
            sampler.stop()
            hot = profile.finish(spy) if spy else None
            heard = hearing.per_phase(heard_before, await hearing.read(), sent.accepted, pids)
            summary = tally.summary(first, first + sent.sent)
            span_s = max(1e-6, (tally.last_recv_us - (tally.first_recv_us or 0)) / 1e6)
            record = {
                "label": opts.label,
                "target": target,
                "scenario": opts.scenario,
                "streams": opts.streams,
                "connected": subscribed,
                "rate": rate,
                "duration": opts.duration,
                "webhooks_sent": sent.sent,
                "webhooks_accepted": sent.accepted,
                "webhook_rate": round(sent.rate, 1),
                "webhook_statuses": dict(sent.statuses),
                "webhook_p50_ms": sent.response_ms(0.5),
                "webhook_p99_ms": sent.response_ms(0.99),
                "sender_max_lag_s": round(sent.max_lag_s, 3),
                **asdict(summary),
                "deliveries_per_s": round(summary.received / span_s, 1),
                "drain_s": round(drain_s, 2),
                "seq_gaps": pool.stats.seq_gaps,
                "seq_repeats": pool.stats.seq_repeats,
                "streams_closed_by_server": pool.stats.closed_by_server,
                "rss_before_kb": rss_before,
                "rss_idle_kb": rss_idle,
                "idle_kb_per_stream": round((rss_idle - rss_before) / max(1, subscribed), 2),
                "rss_peak_kb": sampler.max_rss_kb,
                "redis_clients_idle": redis_idle,
                "redis_clients_peak": sampler.max_redis_clients,
                "server_cpu": round(server_cpu, 2),
                "client_cpu": round(client_cpu, 2),
                "worker_connections": opts.worker_connections or "gunicorn.conf.py",
                "workers": len(pids),
                "redis": "cluster (3 primaries + 3 replicas)" if opts.cluster else "one",
                **heard,
                **redis_cost,
                "load_avg": Path("/proc/loadavg").read_text().split()[0],
                "settle_s": round(settle_s, 1),
                "profile_top": hot,
            }
            records.append(record)
            _print(record)
            first += sent.sent
        if restart_count:
            record = await _restart_phase(opts, setup, pool, sender, tally, first, restart_count)
            records.append(record)
            _print_restart(record)
    finally:
        pool.close()
        setup.stop()
    return records


async def _established(pool: StreamPool, streams: int, timeout: float) -> None:
    """Wait until every stream is open (``resumed``/``resync`` read), those turned away at
    opening included, once they have come back."""
    deadline = time.monotonic() + timeout
    while len(pool.stats.established) < streams and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


async def _openings(opts: Options, setup: Setup, tally: Tally, worker: int) -> list[dict[str, Any]]:
    """One burst per rate, each on a fresh worker (its streams closed, then the worker
    restarted), so that every burst meets a worker holding none."""
    server = setup.server
    assert server is not None
    records = []
    for n, rate in enumerate(opts.rates):
        if n:
            old = server.restart_worker()
            procs.wait_for(partial(server.new_worker_up, old), 60, "a new worker")
            procs.wait_for(lambda: requests.get(server.url + "/login", timeout=2).ok, 60, "it")
            worker = server.worker_pid
        pool, record = await run_openings(
            setup.port, setup.requests, rate, opts.duration, worker, tally
        )
        pool.close()
        records.append({"label": opts.label, "target": setup.target, **record})
        print_openings(record)
    return records


#: EventSource's reconnect delay as Parley sets it (``retry: 2000``).
RETRY_S = 2.0


async def _restart_phase(
    opts: Options,
    setup: Setup,
    pool: StreamPool,
    sender: WebhookSender,
    tally: Tally,
    first: int,
    count: int,
) -> dict[str, Any]:
    """A deploy under load: webhooks keep coming at the first rate while the worker gets
    SIGTERM (2 s in). Its streams end with their retry hint; each reconnects after the
    ``retry:`` delay its server last sent (EventSource's rule), with ``Last-Event-ID``, to the
    new worker and must get exactly what it missed: every delivery once, no seq gap, no
    ``resync``. Webhooks that got no answer are retried."""
    assert setup.server is not None
    server = setup.server
    rate = opts.rates[0]
    print(f"  restart: SIGTERM to every worker 2 s into a {rate:g}/s phase", flush=True)
    tally.begin_phase(first)
    pool.reconnect_after, pool.reconnect_jitter = RETRY_S, 0.0  # EventSource: `retry:` exactly
    loop = asyncio.get_running_loop()
    sigterm: dict[str, float] = {}
    old: list[int] = []

    def restart() -> None:
        sigterm["at"] = time.monotonic()
        old.extend(server.restart_workers())

    loop.call_later(2.0, restart)
    timeline: list[tuple[float, int, float | None]] = []
    spy: list[profile.Recording] = []

    async def watch() -> None:
        """Once a second after the SIGTERM: streams back, and the new workers' CPU (summed);
        with ``--py-spy``, the first new worker recorded for its first 20 s."""
        cpu: tuple[list[int], float] | None = None
        while True:
            await asyncio.sleep(1.0)
            if not sigterm:
                continue
            workers = server.new_workers_up(old)
            share = None
            if workers is not None and opts.py_spy and not spy:
                path = opts.py_spy.with_name(f"{opts.py_spy.stem}-wave{opts.py_spy.suffix}")
                spy.append(profile.start(workers[0], path, 20, rate))
            if workers is not None:
                now = sum(procs.cpu_seconds(pid) for pid in workers)
                if cpu is not None and cpu[0] == workers:
                    share = round(now - cpu[1], 2)
                cpu = (workers, now)
            timeline.append(
                (round(time.monotonic() - sigterm["at"], 1), pool.stats.reconnected, share)
            )

    watcher = loop.create_task(watch())
    redis_before = setup.redis.cost()
    sent = await sender.run(setup.targets, first, count, rate, opts.duration, opts.connections)
    deadline = time.monotonic() + opts.drain
    while pool.stats.reconnected < pool.stats.closed_by_server and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    drain_s = await _drain(tally, max(1.0, deadline - time.monotonic()))
    redis_cost = redis_before.per_message(setup.redis.cost(), sent.accepted)
    watcher.cancel()
    hot = profile.finish(spy[0]) if spy else None
    new_workers = server.new_workers_up(old) if sigterm else None
    settle_s = round(await _settle(new_workers, 120), 1) if new_workers else None
    summary = tally.summary(first, first + sent.sent)
    stats = pool.stats
    return {
        "label": opts.label,
        "target": "parley",
        "scenario": f"{opts.scenario}-restart",
        "streams": opts.streams,
        "rate": rate,
        "duration": opts.duration,
        "webhooks_sent": sent.sent,
        "webhooks_accepted": sent.accepted,
        "webhook_statuses": dict(sent.statuses),
        "webhook_p99_ms": sent.response_ms(0.99),
        **asdict(summary),
        "streams_closed_by_server": stats.closed_by_server,
        "reconnected": stats.reconnected,
        "reconnect_failures": stats.reconnect_failures,
        "resyncs": stats.resyncs,
        "seq_gaps": stats.seq_gaps,
        "seq_repeats": stats.seq_repeats,
        "all_back_s": round(stats.last_reconnect_at - sigterm["at"], 2) if sigterm else None,
        "workers": opts.workers,
        "drain_s": round(drain_s, 2),
        "new_worker_settle_s": settle_s,
        "timeline": timeline,  # (seconds after SIGTERM, streams back, new worker's CPU share)
        "profile_top": hot,  # the first new worker's first 20 s (``--py-spy``)
        **redis_cost,
        "load_avg": Path("/proc/loadavg").read_text().split()[0],
    }


def _print_restart(r: dict[str, Any]) -> None:
    print(
        f"  restart at {r['rate']:g}/s: webhooks {r['webhooks_accepted']}/{r['webhooks_sent']} "
        f"({r['webhook_statuses']}); streams closed {r['streams_closed_by_server']}, back "
        f"{r['reconnected']} (all within {r['all_back_s']} s of SIGTERM), resyncs "
        f"{r['resyncs']}, failed tries {r['reconnect_failures']}; deliveries "
        f"{r['received']}/{r['expected']} lost {r['lost']} dup {r['duplicated']}; latency p50 "
        f"{r['p50_ms']} p99 {r['p99_ms']} max {r['max_ms']} ms; seq gaps {r['seq_gaps']} "
        f"repeats {r['seq_repeats']}; new worker idle after {r['new_worker_settle_s']} s; "
        f"redis {r['redis_cpu_ms_per_msg']} ms/msg, {r['redis_bytes_per_msg']} B/msg",
        flush=True,
    )
    print("  after SIGTERM (s, streams back, new worker CPU): " + str(r["timeline"]), flush=True)
    for kind, rows in (r["profile_top"] or {}).items():
        print(f"  py-spy on the new worker, {kind} share of samples:")
        for name, share in rows[:25]:
            print(f"    {share:6.1%}  {name}")


def _rss(pids: list[int]) -> int:
    return sum(procs.rss_kb(pid) for pid in pids)


def _cpu(pids: list[int]) -> float:
    return sum(procs.cpu_seconds(pid) for pid in pids)


async def _settle(pids: list[int], limit: float) -> float:
    """Wait until the workers use under 15 % of a core over a second (or ``limit`` seconds).

    N streams opening at once make N users come online: each is announced to their contacts
    by the worker's presence relay, one Twilio lookup at a time, long after the streams are
    open. Without settling, the phases measure that storm as much as the stream path."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = _cpu(pids)
        await asyncio.sleep(1.0)
        if _cpu(pids) - before < 0.15:
            break
    waited = time.monotonic() - started
    print(f"  settled: worker idle after {waited:.1f}s (limit {limit:g}s)", flush=True)
    return waited


def _print(r: dict[str, Any]) -> None:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}"

    print(
        f"  rate {r['rate']:g}/s: webhooks {r['webhooks_accepted']}/{r['webhooks_sent']} "
        f"({r['webhook_rate']}/s, p99 {ms(r['webhook_p99_ms'])} ms); deliveries "
        f"{r['received']}/{r['expected']} lost {r['lost']} dup {r['duplicated']} "
        f"({r['deliveries_per_s']}/s); latency p50 {ms(r['p50_ms'])} p99 {ms(r['p99_ms'])} "
        f"max {ms(r['max_ms'])} ms; drain {r['drain_s']}s; seq gaps {r['seq_gaps']}; "
        f"idle {r['idle_kb_per_stream']} KB/stream; redis clients {r['redis_clients_peak']}; "
        f"cpu server {r['server_cpu']} client {r['client_cpu']}; redis cpu "
        f"{r['redis_cpu_s']}s ({r['redis_cpu_ms_per_msg']} ms/msg) mem "
        f"{r['redis_mem_delta_bytes']:+d} B ({r['redis_bytes_per_msg']} B/msg); "
        f"load {r['load_avg']}",
        flush=True,
    )
    if r.get("redis_commands_per_msg"):
        top = ", ".join(
            f"{name} {calls:g}x {usec:g} us"
            for name, (calls, usec) in r["redis_commands_per_msg"].items()
        )
        print(f"  redis per message: {top}", flush=True)
    print(
        f"  heard: {r['workers']} workers ({r['redis']} Redis); pub/sub messages received "
        f"{r['pubsub_received']} ({r['pubsub_received_source']}), per webhook "
        f"{r['received_per_webhook']}, per worker per webhook "
        f"{r['received_per_worker_per_webhook']}; Redis bytes out {r['redis_bytes_out']} "
        f"({r['redis_bytes_per_webhook']}/webhook, replies included); publishes "
        f"{r['redis_publish_calls']} + spublishes {r['redis_spublish_calls']}",
        flush=True,
    )
    for kind, rows in (r["profile_top"] or {}).items():
        print(f"  py-spy, {kind} share of samples:")
        for name, share in rows[:20]:
            print(f"    {share:6.1%}  {name}")


def _options(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", choices=("chat", "broadcast", "openings"), default="chat")
    parser.add_argument(
        "--target",
        default="parley",
        help=f"a comma list of {', '.join(TARGETS)}, run one after the other in that order "
        "(repeats allowed); both = parley,flask-sse",
    )
    parser.add_argument(
        "--hub",
        type=Path,
        help="the reference hub's limit_hub.py, needed by --target hub (loaded from there at "
        "run time; it is not part of this repository)",
    )
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument(
        "--rate",
        default="100",
        help="webhooks/s (openings: stream openings/s); a comma list runs one phase per rate; "
        "0 = flat out",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=10.0,
        help="seconds per phase (openings: the most to wait for every stream to be open)",
    )
    parser.add_argument("--connections", type=int, default=16, help="webhook connections")
    parser.add_argument("--batch", type=int, default=500, help="streams opened at a time")
    parser.add_argument("--drain", type=float, default=20.0, help="max seconds to wait after")
    parser.add_argument("--max-messages", type=int, default=200_000)
    parser.add_argument("--py-spy", type=Path, help="record the worker with py-spy to this file")
    parser.add_argument("--out", type=Path, help="append one JSON line per phase here")
    parser.add_argument("--label", default="", help="free text kept with the results")
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        help="before the phases, wait up to this many seconds for the worker to go idle "
        "(the presence announcements of N users coming online at once)",
    )
    parser.add_argument(
        "--restart",
        action="store_true",
        help="then a deploy under load: SIGTERM the worker during a phase at the first rate; "
        "streams reconnect with Last-Event-ID (Parley only; runs Twilio's emulator standalone)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="gunicorn worker processes (WEB_CONCURRENCY)"
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="Parley on a private Redis Cluster (3 primaries + 3 replicas, REDIS_CLUSTER=1)",
    )
    parser.add_argument(
        "--worker-connections",
        type=int,
        help="override gunicorn.conf.py's worker_connections (it caps streams + webhooks)",
    )
    args = parser.parse_args(argv)
    targets = ["parley", "flask-sse"] if args.target == "both" else args.target.split(",")
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        parser.error(f"unknown target {', '.join(unknown)}: choose from {', '.join(TARGETS)}")
    hub = args.hub.resolve() if args.hub is not None else None
    if "hub" in targets and (hub is None or not hub.is_file()):
        parser.error("--target hub needs the reference hub's file: --hub PATH/limit_hub.py")
    if "hub" in targets and args.workers > 1:
        parser.error("the hub's streams are counted by its one worker's /stats: --workers 1")
    if args.scenario == "broadcast" and args.streams > BROADCAST_CAP:
        parser.error(f"broadcast is one conversation: at most {BROADCAST_CAP} participants")
    if args.streams < 2:
        parser.error("at least 2 streams")
    if args.workers < 1:
        parser.error("at least 1 worker")
    if args.workers > 1 and args.scenario == "openings":
        parser.error("--scenario openings measures one worker")
    if args.cluster and targets != ["parley"] * len(targets):
        parser.error("--cluster runs Parley only")
    return Options(
        scenario=args.scenario,
        targets=targets,
        streams=args.streams,
        rates=[float(r) for r in args.rate.split(",")],
        duration=min(args.duration, 600.0),
        connections=args.connections,
        batch=args.batch,
        drain=min(args.drain, 120.0),
        max_messages=args.max_messages,
        py_spy=args.py_spy,
        out=args.out,
        label=args.label,
        worker_connections=args.worker_connections,
        settle=min(args.settle, 600.0),
        restart=args.restart,
        workers=args.workers,
        cluster=args.cluster,
        hub=hub,
    )


def _run_loop(coro: Coroutine[Any, Any, T]) -> T:
    """uvloop when installed: the client's per-chunk overhead is what limits it."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main(argv: list[str] | None = None) -> None:
    opts = _options(argv)
    _raise_fd_limit()
    versions = _versions(opts.hub if "hub" in opts.targets else None)
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()), flush=True)
    for target in opts.targets:
        records = _run_loop(run_target(target, opts))
        if opts.out:
            opts.out.parent.mkdir(parents=True, exist_ok=True)
            with opts.out.open("a") as out:
                for record in records:
                    out.write(json.dumps({**record, "versions": versions}) + "\n")


if __name__ == "__main__":
    main()
