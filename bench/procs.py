"""The processes a run owns: a private redis-server and one gunicorn server under test.

Everything binds to 127.0.0.1 on a free port, so a run never touches the machine's own Redis or
another engineer's server, and everything started here is stopped here.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for(check: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``check`` until truthy; the deadline, not the interval, decides failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not up yet; keep polling until the deadline
            pass
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, wait: float = 15) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=10)

    def stats(self) -> dict[str, int]:
        return redis_stats([self.port])

    def connected_clients(self) -> int:
        with self.client() as client:
            return redis_clients(client)

    def cost(self) -> RedisCost:
        return redis_cost([self.port])

    def stop(self) -> None:
        _stop(self.process)


def start_redis() -> RedisServer:
    """Memory-only, private, with room for thousands of pub/sub clients (Flask-SSE needs one
    connection per stream)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxclients",
            "20000",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = RedisServer(port, process)
    wait_for(lambda: port_open(port), 10, "redis-server to listen")
    return server


@dataclass
class GunicornServer:
    """One gunicorn master and its gevent workers (``worker_pids``: what we measure)."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in children.read_text().split()]

    @property
    def worker_pid(self) -> int:
        pids = self.worker_pids
        if len(pids) != 1:
            raise RuntimeError(f"expected one gunicorn worker, found {pids}")
        return pids[0]

    def restart_worker(self) -> int:
        """SIGTERM the worker, as a dyno restart does; the master forks a new one on the same
        listening socket. Returns the old worker's pid (the new one is ``worker_pid`` once
        it is up: see :meth:`new_worker_up`)."""
        old = self.worker_pid
        os.kill(old, signal.SIGTERM)
        return old

    def new_worker_up(self, old: int) -> int | None:
        """The new worker's pid once the old one is gone and a new one runs, else None."""
        up = self.new_workers_up([old])
        return up[0] if up else None

    def restart_workers(self) -> list[int]:
        """SIGTERM every worker at once, as a deploy does to a dyno's; their pids."""
        old = self.worker_pids
        for pid in old:
            os.kill(pid, signal.SIGTERM)
        return old

    def new_workers_up(self, old: list[int]) -> list[int] | None:
        """The new workers' pids once as many as ``old`` run and none of ``old`` is left."""
        pids = self.worker_pids
        return pids if len(pids) == len(old) and not set(pids) & set(old) else None

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        _stop(self.process)


def start_gunicorn(
    app: str,
    env: dict[str, str],
    port: int,
    log_path: Path,
    ready_path: str,
    extra_args: tuple[str, ...] = (),
    workers: int = 1,
) -> GunicornServer:
    """``gunicorn -c gunicorn.conf.py APP`` from the repo root, as the Procfile runs it;
    ``extra_args`` (e.g. ``--worker-connections``) override the config file, visibly."""
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", *extra_args, app],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = GunicornServer(port, process, log_path, env)

    def ready() -> bool:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{server.log_tail()}")
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(f"GET {ready_path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
            return sock.recv(64).startswith(b"HTTP/1.")

    wait_for(ready, 60, f"gunicorn ({app}) to answer {ready_path}")
    wait_for(lambda: len(server.worker_pids) == workers, 30, f"{workers} gunicorn worker(s)")
    return server


@dataclass
class EmulatorServer:
    """A standalone Twilio emulator (``flask emulator run``): Twilio's stand-in outside the
    worker, so its state outlives a worker restart, as Twilio's does."""

    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        _stop(self.process)


def start_emulator(env: dict[str, str], log_path: Path) -> EmulatorServer:
    port = free_port()
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [str(BIN / "flask"), "--app", "wsgi", "emulator", "run", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = EmulatorServer(f"http://127.0.0.1:{port}", process)
    wait_for(lambda: port_open(port), 30, "the standalone emulator to listen")
    return server


def base_env(**overrides: str) -> dict[str, str]:
    """The caller's environment without settings that would point Parley elsewhere."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO_", "REDIS_", "DATABASE_", "PUBLIC_BASE", "PARLEY_"))
    }
    env.update(overrides)
    return env


def rss_kb(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (``VmRSS`` in ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (``/proc/<pid>/stat`` fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def redis_clients(client: redis.Redis) -> int:
    """Connections Redis holds, not counting the one asking."""
    return int(client.info("clients")["connected_clients"]) - 1


def redis_stats(ports: list[int]) -> dict[str, int]:
    """Counters summed over ``ports``: bytes written to clients (command replies included,
    not replication), bytes to replicas, and PUBLISH/SPUBLISH calls (scripts' included)."""
    totals = {"net_output_bytes": 0, "net_repl_output_bytes": 0, "publish": 0, "spublish": 0}
    for port in ports:
        with redis.Redis(port=port, socket_timeout=10) as client:
            stats = client.info("stats")
            commands = client.info("commandstats")
        totals["net_output_bytes"] += int(stats["total_net_output_bytes"])
        totals["net_repl_output_bytes"] += int(stats.get("total_net_repl_output_bytes", 0))
        for name in ("publish", "spublish"):
            totals[name] += int(commands.get(f"cmdstat_{name}", {}).get("calls", 0))
    return totals


@dataclass(frozen=True)
class RedisCost:
    """What Redis has spent so far: CPU seconds (``INFO cpu``, system + user, every thread)
    and ``used_memory`` (``INFO memory``)."""

    cpu_s: float
    used_memory: int
    #: Per command (``INFO commandstats``): calls and µs inside it, scripts' own included.
    commands: dict[str, tuple[int, int]] = field(default_factory=dict)

    def per_message(self, after: RedisCost, messages: int) -> dict[str, object]:
        """The change from this reading to ``after`` as record fields, each also per message."""
        cpu_s = after.cpu_s - self.cpu_s
        memory = after.used_memory - self.used_memory
        count = max(1, messages)
        spent = {
            name: (
                calls - self.commands.get(name, (0, 0))[0],
                usec - self.commands.get(name, (0, 0))[1],
            )
            for name, (calls, usec) in after.commands.items()
        }
        top = sorted(spent.items(), key=lambda item: -item[1][1])[:12]
        return {
            "redis_cpu_s": round(cpu_s, 3),
            "redis_cpu_ms_per_msg": round(cpu_s * 1000 / count, 4),
            "redis_mem_delta_bytes": memory,
            "redis_bytes_per_msg": round(memory / count, 1),
            # calls and µs per message of the commands Redis spent most time in
            "redis_commands_per_msg": {
                name: [round(calls / count, 2), round(usec / count, 1)]
                for name, (calls, usec) in top
                if usec
            },
        }


def redis_cost(ports: list[int]) -> RedisCost:
    """:class:`RedisCost` summed over ``ports``."""
    cpu_s, memory = 0.0, 0
    commands: dict[str, tuple[int, int]] = {}
    for port in ports:
        with redis.Redis(port=port, socket_timeout=10) as client:
            cpu = client.info("cpu")
            memory += int(client.info("memory")["used_memory"])
            stats = client.info("commandstats")
        cpu_s += float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])
        for key, value in stats.items():
            name = key.removeprefix("cmdstat_")
            calls, usec = commands.get(name, (0, 0))
            commands[name] = (calls + int(value["calls"]), usec + int(value["usec"]))
    return RedisCost(cpu_s, memory, commands)
