"""Command line: ``python -m localkafka {fetch,run,start,stop}``.

``run`` keeps the broker in the foreground until Ctrl-C/SIGTERM; ``start``/``stop`` manage a
background broker through ``<data-dir>/kafka.pid`` for scripts and CI.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from localkafka.broker import (
    DEFAULT_HEAP_OPTS,
    PID_FILE,
    LocalKafka,
    LocalKafkaError,
    ToolMissingError,
    ensure_jars,
    find_kafka_dir,
    pid_alive,
    stop_process_group,
)


def _broker(args: argparse.Namespace, *, die_with_parent: bool = True) -> LocalKafka:
    return LocalKafka(
        args.data_dir,
        port=args.port,
        controller_port=args.controller_port,
        heap_opts=shlex.split(args.heap_opts),
        kafka_dir=args.kafka_dir,
        die_with_parent=die_with_parent,
    )


def _cmd_fetch(args: argparse.Namespace) -> int:
    lib = ensure_jars(Path(args.kafka_dir) if args.kafka_dir else find_kafka_dir())
    print(lib)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    broker = _broker(args)
    broker.ensure_jars()
    if broker.format():
        print(f"formatted new KRaft storage in {broker.data_dir}", flush=True)
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    started = time.monotonic()
    broker.start(timeout=args.timeout)
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print(
        f"Kafka ready at {broker.bootstrap_servers} in {time.monotonic() - started:.1f}s "
        f"(pid {broker.pid}, log {broker.log_path}); Ctrl-C to stop",
        flush=True,
    )
    while not stop_requested.wait(0.5):
        if not broker.is_running:
            print(f"Kafka exited unexpectedly; see {broker.log_path}", file=sys.stderr)
            broker.stop()
            return 1
    print("stopping Kafka ...", flush=True)
    broker.stop(timeout=args.timeout)
    print("Kafka stopped", flush=True)
    return 0


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _is_our_broker(pid: int, data_dir: Path) -> bool:
    """Guards against a stale pid file whose pid now belongs to another process."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    config = str(data_dir.resolve() / "server.properties").encode()
    return b"kafka.Kafka" in cmdline and config in cmdline


def _cmd_start(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir)
    pid_file = data_dir / PID_FILE
    pid = _read_pid(pid_file)
    if pid is not None and pid_alive(pid) and _is_our_broker(pid, data_dir):
        print(f"Kafka already running (pid {pid})", file=sys.stderr)
        return 1
    broker = _broker(args, die_with_parent=False)
    broker.ensure_jars()
    broker.format()
    started = time.monotonic()
    broker.start(timeout=args.timeout)
    pid = broker.detach()
    tmp = pid_file.with_suffix(".tmp")
    tmp.write_text(f"{pid}\n")
    os.replace(tmp, pid_file)
    print(
        f"Kafka ready at {broker.bootstrap_servers} in {time.monotonic() - started:.1f}s "
        f"(pid {pid}, pid file {pid_file})",
        flush=True,
    )
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir)
    pid_file = data_dir / PID_FILE
    pid = _read_pid(pid_file)
    if pid is None or not pid_alive(pid) or not _is_our_broker(pid, data_dir):
        pid_file.unlink(missing_ok=True)
        print("Kafka not running", flush=True)
        return 0
    clean = stop_process_group(pid, args.timeout)
    pid_file.unlink(missing_ok=True)
    print("Kafka stopped" if clean else "Kafka killed after timeout", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m localkafka", description="Local single-node Kafka (KRaft) broker."
    )
    parser.add_argument(
        "--kafka-dir", help="directory with pom.xml and log4j2.properties (default: deploy/kafka)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download the broker jars with Maven (cached)")
    for name, help_text in (
        ("run", "run a broker in the foreground until Ctrl-C/SIGTERM"),
        ("start", "start a broker in the background (pid file in the data dir)"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--data-dir", required=True, help="work/data directory of the broker")
        cmd.add_argument("--port", type=int, default=9092, help="client (PLAINTEXT) port")
        cmd.add_argument("--controller-port", type=int, default=9093, help="KRaft controller port")
        cmd.add_argument(
            "--heap-opts", default=" ".join(DEFAULT_HEAP_OPTS), help="JVM heap options"
        )
        cmd.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for startup")
    stop = sub.add_parser("stop", help="stop a broker started with `start`")
    stop.add_argument("--data-dir", required=True)
    stop.add_argument("--timeout", type=float, default=30.0, help="seconds before SIGKILL")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"fetch": _cmd_fetch, "run": _cmd_run, "start": _cmd_start, "stop": _cmd_stop}
    try:
        return handlers[args.command](args)
    except ToolMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except LocalKafkaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
