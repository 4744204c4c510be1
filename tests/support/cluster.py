"""A real local Redis Cluster for the tests: 3 primaries and 3 replicas on free ports.

``redis-server --cluster-enabled yes`` processes in a directory of their own, joined by
``redis-cli --cluster create``; every wait is on a condition with a deadline. Helpers do
what a production cluster goes through: a primary dies and its replica takes over
(:meth:`RedisCluster.kill_primary`), slots move between primaries (:meth:`RedisCluster.move_slots`).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.waiting import free_port, port_open, wait_until

SLOTS = 16384


@dataclass
class ClusterNode:
    port: int
    process: subprocess.Popen[bytes]
    directory: Path

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def client(self) -> redis.Redis:
        """A plain connection to this one node (``CLUSTER`` commands, not keyed ones)."""
        return redis.Redis(port=self.port, socket_timeout=5, decode_responses=True)

    def info(self) -> dict[str, str]:
        """``CLUSTER INFO`` (redis-py parses it into a dictionary)."""
        with self.client() as client:
            return {str(k): str(v) for k, v in client.execute_command("CLUSTER INFO").items()}

    def node_id(self) -> str:
        with self.client() as client:
            return str(client.execute_command("CLUSTER MYID"))

    def stop(self) -> None:
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@dataclass
class RedisCluster:
    """A running cluster: ``url`` names one node, as ``REDIS_URL`` does with ``REDIS_CLUSTER=1``."""

    nodes: list[ClusterNode]
    directory: Path
    killed: list[ClusterNode] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.live_nodes()[0].port}/0"

    def live_nodes(self) -> list[ClusterNode]:
        return [node for node in self.nodes if node.alive]

    def _view(self) -> dict[str, dict[str, object]]:
        """``CLUSTER NODES`` as a live node sees it ("ip:port" → flags, id, slots)."""
        with self.live_nodes()[0].client() as client:
            return dict(client.execute_command("CLUSTER NODES"))

    def primaries(self) -> dict[int, str]:
        """Port → node id of every live primary, as the first live node sees them."""
        found: dict[int, str] = {}
        for address, node in self._view().items():
            flags = str(node["flags"]).split(",")
            if "master" in flags and "fail" not in flags and "fail?" not in flags:
                found[int(address.rsplit(":", 1)[1].split("@")[0])] = str(node["node_id"])
        return found

    def slot_owner(self, slot: int) -> int:
        """The port of the primary serving ``slot``, as the first live node sees it."""
        for address, node in self._view().items():
            for start, *end in node["slots"]:  # type: ignore[attr-defined]
                if int(start) <= slot <= int(end[0] if end else start):
                    return int(address.rsplit(":", 1)[1].split("@")[0])
        raise LookupError(f"slot {slot} is not served")

    def healthy(self) -> bool:
        """Every live node says ``cluster_state:ok`` with all slots assigned and served."""
        for node in self.live_nodes():
            info = node.info()
            if info.get("cluster_state") != "ok" or info.get("cluster_slots_ok") != str(SLOTS):
                return False
        return True

    def replicas_in_sync(self) -> bool:
        """Every live replica's link to its primary is up: only a replica that has synced
        is allowed to take over (its data would otherwise be too old)."""
        for node in self.live_nodes():
            with node.client() as client:
                replication = client.info("replication")
            if replication.get("role") == "slave" and replication.get("master_link_status") != "up":
                return False
        return True

    def wait_healthy(self, timeout: float = 30) -> None:
        wait_until(self.healthy, timeout, "every cluster node to say cluster_state:ok")
        wait_until(self.replicas_in_sync, timeout, "every replica to sync with its primary")

    def client(self, **options: object) -> redis.RedisCluster:
        """A redis-py cluster client started from one node, as Parley's is."""
        return redis.RedisCluster.from_url(self.url, **options)  # type: ignore[arg-type]

    def flush(self) -> None:
        """Empty every primary (replicas follow)."""
        for port in self.primaries():
            with redis.Redis(port=port, socket_timeout=5) as client:
                client.flushall()

    def kill_primary(self, slot: int = 0, timeout: float = 30) -> int:
        """Kill the primary serving ``slot`` (SIGKILL: a crash, no goodbye) and wait until its
        replica is promoted and every live node serves all slots again; the dead port."""
        wait_until(self.replicas_in_sync, timeout, "every replica to sync with its primary")
        port = self.slot_owner(slot)
        victim = next(node for node in self.nodes if node.port == port)
        victim.process.kill()
        victim.process.wait(10)
        self.killed.append(victim)

        def promoted() -> bool:
            owner = self.slot_owner(slot)
            return owner != port and self.healthy()

        wait_until(promoted, timeout, f"a replica to take over slot {slot} from :{port}")
        return port

    def move_slots(
        self, slots: list[int], to_port: int | None = None, tell_others: bool = True
    ) -> int:
        """Move ``slots`` (keys included) to another primary, ``to_port`` or the first one
        not serving the first slot, as ``redis-cli --cluster reshard`` does: SETSLOT
        importing/migrating, MIGRATE the keys, SETSLOT NODE everywhere (on the two nodes
        only when not ``tell_others``: the rest learn it from the cluster bus, a little
        later). The target's port."""
        primaries = self.primaries()
        target = to_port or next(p for p in primaries if p != self.slot_owner(slots[0]))
        target_id = primaries[target]
        for slot in slots:
            source = self.slot_owner(slot)
            if source == target:
                continue
            source_id = primaries[source]
            with (
                redis.Redis(port=source, socket_timeout=10) as src,
                redis.Redis(port=target, socket_timeout=10) as dst,
            ):
                dst.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", source_id)
                src.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", target_id)
                while keys := src.execute_command("CLUSTER GETKEYSINSLOT", slot, 100):
                    src.execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
                dst.execute_command("CLUSTER SETSLOT", slot, "NODE", target_id)
                src.execute_command("CLUSTER SETSLOT", slot, "NODE", target_id)
            for port in primaries if tell_others else ():
                if port not in (source, target):
                    with redis.Redis(port=port, socket_timeout=10) as other:
                        other.execute_command("CLUSTER SETSLOT", slot, "NODE", target_id)

        def moved() -> bool:
            return all(self.slot_owner(slot) == target for slot in slots) and self.healthy()

        wait_until(moved, 30, f"slots {slots[:3]}… to be served by :{target}")
        return target

    def reshard(self, count: int, to_port: int | None = None) -> int:
        """Move ``count`` slots with ``redis-cli --cluster reshard`` (the operator's tool);
        the target's port."""
        primaries = self.primaries()
        target = to_port or next(iter(primaries))
        _redis_cli(
            "--cluster",
            "reshard",
            f"127.0.0.1:{target}",
            "--cluster-from",
            "all",
            "--cluster-to",
            primaries[target],
            "--cluster-slots",
            str(count),
            "--cluster-yes",
        )
        self.wait_healthy()
        return target

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed (apt-get install redis-server)")
    return found


def _redis_cli(*args: str) -> str:
    result = subprocess.run(
        [_binary("redis-cli"), *args], capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(f"redis-cli {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def _start_node(directory: Path) -> ClusterNode:
    port = free_port()
    bus_port = free_port()  # not port + 10000, which may be taken or past 65535
    home = directory / str(port)
    home.mkdir(parents=True)
    process = subprocess.Popen(
        [
            _binary("redis-server"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(home),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-port",
            str(bus_port),
            # A dead primary is noticed within 2 s: tests of a failover wait seconds, not 15.
            "--cluster-node-timeout",
            "2000",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    node = ClusterNode(port, process, home)
    wait_until(lambda: port_open(port) or not node.alive, 10, "a cluster node to listen")
    if not node.alive:
        raise RuntimeError(f"redis-server --cluster-enabled on :{port} exited at once")
    return node


def start_cluster(directory: Path, primaries: int = 3, replicas: int = 1) -> RedisCluster:
    """Start ``primaries`` × (1 + ``replicas``) nodes in ``directory`` and join them."""
    directory.mkdir(parents=True, exist_ok=True)
    nodes: list[ClusterNode] = []
    cluster = RedisCluster(nodes, directory)
    try:
        for _ in range(primaries * (1 + replicas)):
            nodes.append(_start_node(directory))
        _redis_cli(
            "--cluster",
            "create",
            *(f"127.0.0.1:{node.port}" for node in nodes),
            "--cluster-replicas",
            str(replicas),
            "--cluster-yes",
        )
        cluster.wait_healthy()
        wait_until(lambda: len(cluster.primaries()) == primaries, 30, f"{primaries} primaries")
    except BaseException:
        cluster.stop()
        raise
    return cluster


@contextmanager
def running_cluster(directory: Path) -> Iterator[RedisCluster]:
    cluster = start_cluster(directory)
    try:
        yield cluster
    finally:
        cluster.stop()
