"""A private Redis Cluster for a run (3 primaries + 3 replicas), and what Redis sent.

Adapted from ``tests/support/cluster.py`` (the bench imports nothing from ``tests/``): only
starting, joining, reading counters and stopping; no failovers or slot moves.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import redis

from bench.procs import (
    RedisCost,
    free_port,
    port_open,
    redis_clients,
    redis_cost,
    redis_stats,
    wait_for,
)

SLOTS = 16384


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed (apt-get install redis-server)")
    return found


@dataclass
class ClusterServer:
    """A running cluster; ``url`` names one node, as ``REDIS_URL`` does with
    ``REDIS_CLUSTER=1``."""

    processes: list[subprocess.Popen[bytes]]
    ports: list[int]
    directory: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def primaries(self) -> list[int]:
        with redis.Redis(port=self.ports[0], socket_timeout=10, decode_responses=True) as c:
            view = dict(c.execute_command("CLUSTER NODES"))
        return [
            int(address.rsplit(":", 1)[1].split("@")[0])
            for address, node in view.items()
            if "master" in str(node["flags"]).split(",")
        ]

    def stats(self) -> dict[str, int]:
        return redis_stats(self.primaries())

    def cost(self) -> RedisCost:
        """Summed over the primaries (the replicas' cost of copying them is left out)."""
        return redis_cost(self.primaries())

    def connected_clients(self) -> int:
        total = 0
        for port in self.primaries():
            with redis.Redis(port=port, socket_timeout=10) as client:
                total += redis_clients(client)
        return total

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        shutil.rmtree(self.directory, ignore_errors=True)


def _healthy(ports: list[int]) -> bool:
    for port in ports:
        with redis.Redis(port=port, socket_timeout=5, decode_responses=True) as client:
            info = client.execute_command("CLUSTER INFO")
            if info.get("cluster_state") != "ok" or str(info.get("cluster_slots_ok")) != str(SLOTS):
                return False
            if client.info("replication").get("master_link_status", "up") != "up":
                return False
    return True


def start_cluster(primaries: int = 3, replicas: int = 1) -> ClusterServer:
    """``primaries`` × (1 + ``replicas``) memory-only nodes, joined by ``redis-cli``."""
    directory = Path(tempfile.mkdtemp(prefix="parley-bench-cluster-"))
    cluster = ClusterServer([], [], directory)
    try:
        for _ in range(primaries * (1 + replicas)):
            port, bus = free_port(), free_port()
            home = directory / str(port)
            home.mkdir()
            cluster.processes.append(
                subprocess.Popen(
                    [
                        _binary("redis-server"),
                        *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(home)),
                        *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
                        *("--cluster-port", str(bus), "--cluster-node-timeout", "5000"),
                        *("--save", "", "--appendonly", "no", "--maxclients", "20000"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            cluster.ports.append(port)
            wait_for(partial(port_open, port), 10, "a cluster node to listen")
        subprocess.run(
            [
                _binary("redis-cli"),
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in cluster.ports),
                *("--cluster-replicas", str(replicas), "--cluster-yes"),
            ],
            capture_output=True,
            check=True,
            timeout=120,
        )
        wait_for(lambda: _healthy(cluster.ports), 60, "the cluster to say cluster_state:ok")
        wait_for(lambda: len(cluster.primaries()) == primaries, 30, f"{primaries} primaries")
    except BaseException:
        cluster.stop()
        raise
    return cluster
