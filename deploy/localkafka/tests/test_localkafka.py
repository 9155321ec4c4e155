"""LocalKafka itself: generated configuration, CLI start/stop with a pid file, error paths."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from localkafka import BrokerStartError, LocalKafka, ToolMissingError, free_port, pid_alive

#: The broker alone (no service store): run once, in the SQLite pass (conftest.py).
pytestmark = pytest.mark.store_independent


def test_server_properties_defaults_and_extra_config(tmp_path: Path) -> None:
    broker = LocalKafka(
        tmp_path,
        port=19092,
        controller_port=19093,
        extra_config={"num.partitions": "1", "sasl.enabled.mechanisms": "SCRAM-SHA-512"},
    )
    props = broker.server_properties()
    assert broker.bootstrap_servers == "127.0.0.1:19092"
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["auto.create.topics.enable"] == "false"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["num.partitions"] == "1"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["log.dirs"] == str(tmp_path / "data")

    text = broker.write_config().read_text()
    assert "controller.quorum.voters=1@127.0.0.1:19093\n" in text


def test_property_values_are_escaped(tmp_path: Path) -> None:
    jaas = 'org.example.Login required\nusername="a\\b";'
    broker = LocalKafka(tmp_path, port=19092, controller_port=19093, extra_config={"x.jaas": jaas})
    text = broker.write_config().read_text()
    assert 'x.jaas=org.example.Login required\\nusername="a\\\\b";\n' in text


def test_free_ports_are_distinct(tmp_path: Path) -> None:
    broker = LocalKafka(tmp_path)
    assert broker.port != broker.controller_port
    assert not broker.is_running


def test_free_ports_are_picked_outside_the_ephemeral_range() -> None:
    """A port the kernel gives outgoing connections could be taken before a JVM binds it."""
    low, high = (
        int(bound) for bound in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    )
    picked = [free_port(consecutive=2) for _ in range(50)]
    for port in picked:
        assert not low <= port <= high
        assert not low <= port + 1 <= high
        for each in (port, port + 1):  # both free: a broker and its controller can bind them
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", each))
    assert len(set(picked)) > 40  # spread, not one port handed to every caller


def test_a_free_port_is_never_an_excluded_or_a_listening_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import localkafka.broker as broker_module

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", free_port()))
        listening.listen()
        taken = listening.getsockname()[1]
        excluded = free_port(exclude={taken})
        spare = free_port(exclude={taken, excluded})
        # The picks come in this order: the listening port, the excluded one, then a free one.
        picks = iter([taken, excluded, spare])
        monkeypatch.setattr(broker_module._picker, "randint", lambda _low, _high: next(picks))
        assert free_port(exclude={excluded}) == spare


def test_missing_java_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broker = LocalKafka(tmp_path)
    broker.ensure_jars()  # resolve (or reuse) the jars while mvn is still on PATH
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissingError, match="java"):
        broker.format()


def test_start_fails_fast_with_log_tail_when_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        broker = LocalKafka(tmp_path, port=port)
        with pytest.raises(BrokerStartError, match="Address already in use"):
            broker.start(timeout=60)
    assert not broker.is_running


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localkafka", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_cli_start_stop_with_pid_file(tmp_path: Path) -> None:
    port = free_port()
    controller_port = free_port(exclude={port})
    ports = ["--port", str(port), "--controller-port", str(controller_port)]
    data = ["--data-dir", str(tmp_path)]
    started = _cli("start", *data, *ports)
    assert started.returncode == 0, started.stderr
    pid = int((tmp_path / "kafka.pid").read_text())
    try:
        assert f"127.0.0.1:{port}" in started.stdout
        assert pid_alive(pid)
        again = _cli("start", *data, *ports)
        assert again.returncode == 1
        assert "already running" in again.stderr
        assert LocalKafka(tmp_path, port=port, controller_port=controller_port).probe()
    finally:
        stopped = _cli("stop", *data)
    assert stopped.returncode == 0, stopped.stderr
    assert "Kafka stopped" in stopped.stdout
    assert not pid_alive(pid)
    assert not (tmp_path / "kafka.pid").exists()
    assert "not running" in _cli("stop", *data).stdout
