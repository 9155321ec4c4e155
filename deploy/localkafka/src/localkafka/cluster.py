"""Three KRaft brokers on loopback: a local Kafka *cluster* from the same Maven jars.

Each node is a :class:`LocalKafka` (broker and controller in one process, its own ports and work
directory), formatted with one shared cluster id and a static quorum of the three controllers.
Replication is as in production: topics get three replicas and ``min.insync.replicas=2``, so the
cluster accepts writes with one node down and refuses them with two.

    with LocalKafkaCluster(tmp_path) as cluster:
        cluster.bootstrap_servers          # "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
        cluster.kill(node_id)              # SIGKILL: no shutdown, as a crash
        cluster.start_node(node_id)        # back on the same ports and data
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from localkafka.broker import LocalKafka, _new_cluster_id, free_port

__all__ = ["CLUSTER_HEAP_OPTS", "LocalKafkaCluster"]

#: Three JVMs on a small machine: a smaller heap each than a single broker gets.
CLUSTER_HEAP_OPTS: tuple[str, ...] = ("-Xms128m", "-Xmx384m")
REPLICATION_FACTOR = 3
MIN_INSYNC_REPLICAS = 2


class LocalKafkaCluster:
    """``size`` KRaft nodes (ids 1..size), each broker and controller, on free loopback ports."""

    def __init__(
        self,
        work_dir: str | os.PathLike[str],
        *,
        size: int = 3,
        heap_opts: Sequence[str] = CLUSTER_HEAP_OPTS,
        extra_config: Mapping[str, str] | None = None,
        cluster_id: str | None = None,
    ) -> None:
        if size < 3:
            raise ValueError("a cluster that survives a broker needs at least three nodes")
        self.work_dir = Path(work_dir).resolve()
        self.cluster_id = cluster_id or _new_cluster_id()
        taken: set[int] = set()
        ports: dict[int, tuple[int, int]] = {}
        for node_id in range(1, size + 1):
            port = free_port(exclude=taken)
            taken.add(port)
            controller = free_port(exclude=taken)
            taken.add(controller)
            ports[node_id] = (port, controller)
        voters = ",".join(f"{n}@127.0.0.1:{c}" for n, (_p, c) in ports.items())
        self.nodes: dict[int, LocalKafka] = {}
        for node_id, (port, controller) in ports.items():
            config = {
                "node.id": str(node_id),
                "controller.quorum.voters": voters,
                "default.replication.factor": str(REPLICATION_FACTOR),
                "min.insync.replicas": str(MIN_INSYNC_REPLICAS),
                "offsets.topic.replication.factor": str(REPLICATION_FACTOR),
                "transaction.state.log.replication.factor": str(REPLICATION_FACTOR),
                "transaction.state.log.min.isr": str(MIN_INSYNC_REPLICAS),
                "share.coordinator.state.topic.replication.factor": str(REPLICATION_FACTOR),
                "share.coordinator.state.topic.min.isr": str(MIN_INSYNC_REPLICAS),
                # A dead node is noticed within seconds, not the default 9 s: its partitions
                # get a new leader quickly. An unclean election would lose acknowledged writes.
                "broker.heartbeat.interval.ms": "500",
                "broker.session.timeout.ms": "3000",
                "unclean.leader.election.enable": "false",
                "replica.lag.time.max.ms": "5000",
            }
            config.update(extra_config or {})
            self.nodes[node_id] = LocalKafka(
                self.work_dir / f"node-{node_id}",
                port=port,
                controller_port=controller,
                extra_config=config,
                heap_opts=heap_opts,
                cluster_id=self.cluster_id,
            )

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes.values())

    def node_of_port(self, port: int) -> int:
        for node_id, node in self.nodes.items():
            if node.port == port:
                return node_id
        raise KeyError(port)

    # -- lifecycle ------------------------------------------------------------------------

    def ensure_jars(self) -> Path:
        lib = Path()
        for node in self.nodes.values():
            lib = node.ensure_jars()
        return lib

    def start(self, timeout: float = 180.0) -> None:
        """Start every node, then wait for each: a controller quorum needs a majority up, so no
        node can be ready before the others have been started."""
        spawned = []
        try:
            for node in self.nodes.values():
                if not node.is_running:
                    spawned.append((node, *node._spawn()))
            for node, proc, offset in spawned:
                node._wait_ready(proc, offset, timeout)
        except BaseException:
            self.stop()
            raise

    def start_node(self, node_id: int, timeout: float = 120.0) -> None:
        """Bring one node back (same ports and data) and wait until it answers."""
        self.nodes[node_id].start(timeout)

    def kill(self, node_id: int) -> None:
        """SIGKILL one node: no controlled shutdown, no leadership handed over, as in a crash."""
        node = self.nodes[node_id]
        pid = node.pid
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        proc = node._proc
        if proc is not None:
            proc.wait(timeout=30)
        node.stop()  # forgets the dead process

    def stop(self) -> None:
        """Stop every node, in parallel (each one's controlled shutdown waits for the others)."""
        threads = [
            threading.Thread(target=node.stop, name=f"stop-node-{node_id}")
            for node_id, node in self.nodes.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def __enter__(self) -> LocalKafkaCluster:
        self.ensure_jars()
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        running = [n for n, node in self.nodes.items() if node.is_running]
        return f"LocalKafkaCluster({str(self.work_dir)!r}, nodes running: {running})"

    # -- introspection --------------------------------------------------------------------

    @staticmethod
    def partitions(metadata: list[dict[str, Any]], topic: str) -> dict[int, dict[str, Any]]:
        """partition → {leader, replicas, isr} from ``AIOKafkaAdminClient.describe_topics``."""
        for entry in metadata:
            if entry["topic"] == topic:
                return {p["partition"]: p for p in entry["partitions"]}
        raise KeyError(topic)
