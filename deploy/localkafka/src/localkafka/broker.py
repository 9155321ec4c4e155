"""Run a single-node Apache Kafka broker (KRaft, broker+controller) as a child process.

The broker's jars come from Maven Central through ``deploy/kafka/pom.xml`` and are cached per
pom hash; no Kafka tarball, Docker or ZooKeeper is involved. Everything a broker writes (config,
data, logs) lives in one work directory, so a broker can be stopped and started again on the
same data and ports.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import fcntl
import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

__all__ = [
    "DEFAULT_HEAP_OPTS",
    "BrokerStartError",
    "LocalKafka",
    "LocalKafkaError",
    "ToolMissingError",
    "default_cache_root",
    "ensure_jars",
    "find_kafka_dir",
    "free_port",
    "pid_alive",
    "stop_process_group",
]

DEFAULT_HEAP_OPTS: tuple[str, ...] = ("-Xms256m", "-Xmx768m")
DEFAULT_JVM_OPTS: tuple[str, ...] = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
# The storage tool runs for a second; C1-only JIT starts it noticeably faster on 2 cores.
TOOL_JVM_OPTS: tuple[str, ...] = ("-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")

CONFIG_FILE = "server.properties"
DATA_DIR = "data"
LOG_DIR = "logs"
OUT_FILE = "kafka.out"
PID_FILE = "kafka.pid"

_T = TypeVar("_T")


class LocalKafkaError(RuntimeError):
    """Base error of this package."""


class ToolMissingError(LocalKafkaError):
    """``java`` or ``mvn`` is not installed or not on PATH."""


class BrokerStartError(LocalKafkaError):
    """The broker exited or did not answer in time; the message ends with the log tail."""


#: Where :func:`free_port` picks when the kernel's ephemeral range cannot be read.
_FALLBACK_EPHEMERAL = (32768, 60999)
#: The lowest port :func:`free_port` picks (below: the well-known and registered services).
_LOWEST_PICKED = 10000
_picker = random.SystemRandom()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return _FALLBACK_EPHEMERAL


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _candidates(consecutive: int) -> Iterator[int]:
    """Ports to try for :func:`free_port`: at random outside the ephemeral range, then, if none
    fits there (or there is no room: an unusual kernel setting), the kernel's own picks."""
    low, high = _ephemeral_range()
    spans = [
        (start, end)
        for start, end in ((_LOWEST_PICKED, low - 1), (high + 1, 65535))
        if end - start + 1 >= consecutive
    ]
    for _ in range(200) if spans else ():
        start, end = _picker.choice(spans)
        yield _picker.randint(start, end - consecutive + 1)
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            yield int(sock.getsockname()[1])


def free_port(exclude: Iterable[int] = (), *, consecutive: int = 1) -> int:
    """A TCP port on 127.0.0.1 that is free right now (and the ``consecutive - 1`` after it).

    It is picked at random **outside the kernel's ephemeral range**: a port the kernel hands out
    (``bind(0)``) is also what it gives the next outgoing connection, so a server started seconds
    later (a JVM, a ``uvicorn`` process) can find it taken by any client on the machine, another
    test run's included: CI saw Kafka fail on "Address already in use" that way. Outside that
    range only another picker like this one can take it, and picks spread over ~20,000 ports.
    """
    excluded = set(exclude)
    return next(
        port
        for port in _candidates(consecutive)
        if excluded.isdisjoint(range(port, port + consecutive))
        and all(_bindable(each) for each in range(port, port + consecutive))
    )


def find_kafka_dir() -> Path:
    """Locate ``deploy/kafka`` (pom.xml + log4j2.properties).

    Order: ``$LOCALKAFKA_KAFKA_DIR``, the repository this package was installed from (editable
    install), then ``deploy/kafka`` in the current directory or any parent.
    """
    env = os.environ.get("LOCALKAFKA_KAFKA_DIR")
    if env:
        path = Path(env).expanduser().resolve()
        if not (path / "pom.xml").is_file():
            raise LocalKafkaError(f"LOCALKAFKA_KAFKA_DIR={env} has no pom.xml")
        return path
    # src/localkafka/broker.py -> deploy/localkafka/src/localkafka -> deploy/kafka
    candidates = [Path(__file__).resolve().parents[3] / "kafka"]
    cwd = Path.cwd().resolve()
    candidates += [p / "deploy" / "kafka" for p in (cwd, *cwd.parents)]
    for path in candidates:
        if (path / "pom.xml").is_file():
            return path
    raise LocalKafkaError(
        "cannot find deploy/kafka/pom.xml; run from the repository or set LOCALKAFKA_KAFKA_DIR"
    )


def default_cache_root() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/coop-platform``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "coop-platform"


def _require_tool(name: str, hint: str) -> str:
    if name == "java":
        java_home = os.environ.get("JAVA_HOME")
        if java_home and os.access(Path(java_home) / "bin" / "java", os.X_OK):
            return str(Path(java_home) / "bin" / "java")
    found = shutil.which(name)
    if found is None:
        raise ToolMissingError(f"`{name}` not found on PATH: {hint}")
    return found


_JAVA_HINT = "the local Kafka broker needs a Java 17+ runtime (e.g. apt-get install openjdk-17-jre)"
_MVN_HINT = "fetching the Kafka jars needs Maven (e.g. apt-get install maven)"


def ensure_jars(kafka_dir: Path | None = None, cache_root: Path | None = None) -> Path:
    """Make sure the broker classpath exists; return its ``lib`` directory.

    The cache directory is ``<cache_root>/kafka-<sha256(pom.xml)[:16]>/lib``; a ``lib.complete``
    marker lists the jars, so an interrupted download is redone rather than trusted. A file lock
    serialises concurrent callers (parallel test workers, two terminals).
    """
    kafka_dir = kafka_dir or find_kafka_dir()
    pom = kafka_dir / "pom.xml"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:16]
    root = (cache_root or default_cache_root()) / f"kafka-{digest}"
    lib, marker = root / "lib", root / "lib.complete"
    if _lib_complete(lib, marker):
        return lib
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _lib_complete(lib, marker):
            return lib
        mvn = _require_tool("mvn", _MVN_HINT)
        partial = root / "lib.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(lib, ignore_errors=True)
        marker.unlink(missing_ok=True)
        cmd = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}",
        ]
        result = subprocess.run(  # noqa: S603 - argv list built here, no shell
            cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()[-4000:]
            raise LocalKafkaError(f"maven failed ({result.returncode}): {' '.join(cmd)}\n{output}")
        jars = sorted(p.name for p in partial.glob("*.jar"))
        if not any(name.startswith("kafka_2.13-") for name in jars):
            raise LocalKafkaError(f"maven produced no kafka_2.13 jar in {partial}")
        partial.rename(lib)
        marker.write_text("\n".join(jars) + "\n")
    return lib


def _lib_complete(lib: Path, marker: Path) -> bool:
    if not marker.is_file():
        return False
    names = marker.read_text().split()
    return bool(names) and all((lib / name).is_file() for name in names)


def _new_cluster_id() -> str:
    # Kafka's Uuid.toString(): URL-safe base64 of 16 random bytes without padding. Ids starting
    # with '-' are avoided like Kafka does, as they would parse as a command line flag.
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def _escape_property(text: str, *, key: bool) -> str:
    text = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    if key:
        for char in "=: #!":
            text = text.replace(char, "\\" + char)
    return text


def _tail(path: Path, start: int = 0, max_bytes: int = 6000) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            end = handle.tell()
            handle.seek(max(start, end - max_bytes))
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # A zombie has exited already; only its parent has not reaped it yet.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def stop_process_group(
    pid: int,
    timeout: float = 30.0,
    *,
    wait: Callable[[float], bool] | None = None,
) -> bool:
    """SIGTERM the process group led by ``pid``, then SIGKILL it if it outlives ``timeout``.

    ``wait(seconds) -> exited`` lets a parent reap its own child; otherwise the pid is polled.
    Returns True if the process exited on SIGTERM, False if it had to be killed.
    """

    def poll_wait(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return True
            time.sleep(0.05)
        return not pid_alive(pid)

    waiter = wait or poll_wait
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    if waiter(timeout):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    waiter(10.0)
    return False


class LocalKafka:
    """A single-node KRaft Kafka broker in ``work_dir``.

    Ports are fixed at construction (free ones are picked when ``None``), so ``bootstrap_servers``
    is known before ``start()`` and stays the same across ``restart()``.

    ``extra_config`` is merged last into server.properties (e.g. SASL listeners, an authorizer);
    ``format_args`` is appended to ``kafka-storage format`` (e.g. ``--add-scram ...``) and
    ``probe_client_kwargs`` to the aiokafka admin client of the readiness probe (e.g. SASL
    credentials when the PLAINTEXT listener is replaced). ``cluster_id`` formats the storage with
    that KRaft cluster id, as the brokers of one cluster must (:class:`LocalKafkaCluster`).
    """

    def __init__(
        self,
        work_dir: str | os.PathLike[str],
        *,
        port: int | None = None,
        controller_port: int | None = None,
        extra_config: Mapping[str, str] | None = None,
        heap_opts: Sequence[str] = DEFAULT_HEAP_OPTS,
        jvm_opts: Sequence[str] = DEFAULT_JVM_OPTS,
        format_args: Sequence[str] = (),
        probe_client_kwargs: Mapping[str, Any] | None = None,
        kafka_dir: str | os.PathLike[str] | None = None,
        cache_root: str | os.PathLike[str] | None = None,
        die_with_parent: bool = True,
        cluster_id: str | None = None,
    ) -> None:
        self.work_dir = Path(work_dir).resolve()
        #: The KRaft cluster id to format with (the brokers of one cluster share it); None: new.
        self.format_cluster_id = cluster_id
        self.port = port if port is not None else free_port(exclude={controller_port or 0})
        self.controller_port = (
            controller_port if controller_port is not None else free_port(exclude={self.port})
        )
        if self.port == self.controller_port:
            raise ValueError("port and controller_port must differ")
        self.extra_config = dict(extra_config or {})
        self.heap_opts = tuple(heap_opts)
        self.jvm_opts = tuple(jvm_opts)
        self.format_args = tuple(format_args)
        self.probe_client_kwargs = dict(probe_client_kwargs or {})
        self._kafka_dir = Path(kafka_dir).resolve() if kafka_dir else None
        self._cache_root = Path(cache_root) if cache_root else None
        self.die_with_parent = die_with_parent
        self._lib: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.RLock()

    # -- paths and properties -------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.work_dir / CONFIG_FILE

    @property
    def data_dir(self) -> Path:
        return self.work_dir / DATA_DIR

    @property
    def log_path(self) -> Path:
        """stdout/stderr of the JVM (warnings and start/stop lines)."""
        return self.work_dir / OUT_FILE

    @property
    def server_log_path(self) -> Path:
        """Full INFO log written by log4j2."""
        return self.work_dir / LOG_DIR / "server.log"

    @property
    def kafka_dir(self) -> Path:
        if self._kafka_dir is None:
            self._kafka_dir = find_kafka_dir()
        return self._kafka_dir

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def is_running(self) -> bool:
        return self.pid is not None

    @property
    def is_formatted(self) -> bool:
        return (self.data_dir / "meta.properties").is_file()

    @property
    def cluster_id(self) -> str | None:
        """The KRaft cluster id from ``meta.properties``; None before ``format()``."""
        try:
            lines = (self.data_dir / "meta.properties").read_text().splitlines()
        except OSError:
            return None
        for line in lines:
            key, sep, value = line.partition("=")
            if sep and key.strip() == "cluster.id":
                return value.strip()
        return None

    def server_properties(self) -> dict[str, str]:
        """The broker configuration written to ``server.properties``."""
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "auto.create.topics.enable": "false",
            "num.partitions": "3",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # 50 partitions each by default: creating them delays the first consumer group and
            # transaction by seconds on a 2-core machine.
            "offsets.topic.num.partitions": "5",
            "transaction.state.log.num.partitions": "5",
            "share.coordinator.state.topic.num.partitions": "5",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
            "log.cleaner.threads": "1",
            # The default 128 MiB dedupe buffer would take a sixth of the small heap.
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
        }
        props.update(self.extra_config)
        return props

    def write_config(self) -> Path:
        """(Re)write ``server.properties`` from the current settings."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        lines = ["# Generated by localkafka; rewritten on every start."]
        lines += [
            f"{_escape_property(k, key=True)}={_escape_property(v, key=False)}"
            for k, v in self.server_properties().items()
        ]
        self.config_path.write_text("\n".join(lines) + "\n")
        return self.config_path

    # -- lifecycle ------------------------------------------------------------------------

    def ensure_jars(self) -> Path:
        """Download the broker classpath with Maven unless cached; return the lib directory."""
        if self._lib is None:
            self._lib = ensure_jars(self.kafka_dir, self._cache_root)
        return self._lib

    def _java_cmd(self, main_class: str, *args: str, jvm_opts: Sequence[str]) -> list[str]:
        java = _require_tool("java", _JAVA_HINT)
        return [
            java,
            *jvm_opts,
            f"-Dlog4j2.configurationFile={self.kafka_dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.work_dir / LOG_DIR}",
            "-cp",
            f"{self.ensure_jars()}/*",
            main_class,
            *args,
        ]

    def format(self) -> bool:
        """Format KRaft storage with a new cluster id unless already formatted.

        Returns True if it formatted, False if the data directory was formatted already.
        """
        with self._lock:
            self.write_config()
            if self.is_formatted:
                return False
            cmd = self._java_cmd(
                "kafka.tools.StorageTool",
                "format",
                "--cluster-id",
                self.format_cluster_id or _new_cluster_id(),
                "--config",
                str(self.config_path),
                "--ignore-formatted",
                *self.format_args,
                jvm_opts=TOOL_JVM_OPTS,
            )
            result = subprocess.run(  # noqa: S603 - argv list built here, no shell
                cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120
            )
            if result.returncode != 0 or not self.is_formatted:
                output = (result.stdout + result.stderr).strip()[-4000:]
                raise LocalKafkaError(
                    f"kafka storage format failed ({result.returncode}):\n{output}"
                )
            return True

    def _spawn(self) -> tuple[subprocess.Popen[bytes], int]:
        """Start the JVM; return the process and the log offset where its output starts."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                raise LocalKafkaError(f"broker already running (pid {self._proc.pid})")
            if not self.is_formatted:
                self.format()
            self.write_config()
            cmd = self._java_cmd(
                "kafka.Kafka",
                str(self.config_path),
                jvm_opts=(*self.heap_opts, *self.jvm_opts),
            )
            # PR_SET_PDEATHSIG fires when the *thread* that forked exits, so it is only safe
            # from the main thread; elsewhere the atexit hook is the only safety net.
            if (
                self.die_with_parent
                and threading.current_thread() is threading.main_thread()
                and (setpriv := shutil.which("setpriv"))
            ):
                cmd = [setpriv, "--pdeathsig", "TERM", *cmd]
            self.work_dir.mkdir(parents=True, exist_ok=True)
            with open(self.log_path, "ab") as out:
                offset = out.tell()
                out.write(f"--- localkafka: starting {' '.join(cmd)}\n".encode())
                out.flush()
                self._proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.work_dir,
                    start_new_session=True,
                )
            _LIVE.add(self)
            return self._proc, offset

    def _wait_ready(self, proc: subprocess.Popen[bytes], log_offset: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            code = proc.poll()
            if code is not None:
                raise BrokerStartError(
                    f"Kafka exited with code {code} during startup; {self.log_path}:\n"
                    + _tail(self.log_path, log_offset)
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise BrokerStartError(
                    f"Kafka did not answer a metadata request on {self.bootstrap_servers} within "
                    f"{timeout:.0f}s; {self.log_path}:\n" + _tail(self.log_path, log_offset)
                )
            if (
                self._port_open()
                and self.probe(timeout=min(5.0, max(remaining, 0.5)))
                and proc.poll() is None
            ):
                return
            time.sleep(0.1)

    def _port_open(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def probe(self, timeout: float = 5.0) -> bool:
        """True if the broker answers a metadata request listing itself and a controller.

        Runs aiokafka on a private event loop in a helper thread, so it works with or without a
        running loop in the caller.
        """
        from aiokafka.errors import KafkaError

        try:
            return _run_isolated(lambda: self._probe_async(limit=timeout))
        except (TimeoutError, KafkaError, OSError):
            return False

    async def _probe_async(self, limit: float) -> bool:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap_servers,
            request_timeout_ms=int(limit * 1000),
            **self.probe_client_kwargs,
        )
        try:
            await asyncio.wait_for(admin.start(), limit)
            cluster = await asyncio.wait_for(admin.describe_cluster(), limit)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(admin.close(), limit)
        # Comparing cluster ids makes sure it is our broker, not another one on the same port.
        expected = self.cluster_id
        return (
            bool(cluster.get("brokers"))
            and cluster.get("controller_id", -1) >= 0
            and (expected is None or cluster.get("cluster_id") == expected)
        )

    def start(self, timeout: float = 90.0) -> None:
        """Start the broker (formatting first if needed) and wait until it serves metadata."""
        proc, offset = self._spawn()
        try:
            self._wait_ready(proc, offset, timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM and wait for a clean shutdown; SIGKILL after ``timeout``. No-op if stopped."""
        with self._lock:
            proc = self._proc
            if proc is None:
                return
            if proc.poll() is None:

                def reap(seconds: float) -> bool:
                    try:
                        proc.wait(seconds)
                    except subprocess.TimeoutExpired:
                        return False
                    return True

                stop_process_group(proc.pid, timeout, wait=reap)
            self._proc = None
            _LIVE.discard(self)

    def restart(self, timeout: float = 90.0, downtime: float = 0.0) -> None:
        """Stop, stay down ``downtime`` seconds, start again on the same ports and data."""
        self.stop()
        if downtime > 0:
            time.sleep(downtime)
        self.start(timeout)

    async def astart(self, timeout: float = 90.0) -> None:
        """``start()`` for async code: the event loop keeps running while the broker boots."""
        proc, offset = self._spawn()
        try:
            await asyncio.to_thread(self._wait_ready, proc, offset, timeout)
        except BaseException:
            await asyncio.to_thread(self.stop)
            raise

    async def astop(self, timeout: float = 30.0) -> None:
        """``stop()`` for async code."""
        await asyncio.to_thread(self.stop, timeout)

    async def arestart(self, timeout: float = 90.0, downtime: float = 0.0) -> None:
        """``restart()`` for async code; clients in the loop keep running meanwhile."""
        await self.astop()
        if downtime > 0:
            await asyncio.sleep(downtime)
        await self.astart(timeout)

    def detach(self) -> int:
        """Let the broker outlive this Python process; return its pid."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                raise LocalKafkaError("broker is not running")
            pid = self._proc.pid
            # Popen would otherwise warn (ResourceWarning) that the child is still running.
            self._proc.returncode = 0
            self._proc = None
            _LIVE.discard(self)
            return pid

    def __enter__(self) -> LocalKafka:
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
        state = f"pid {self.pid}" if self.is_running else "stopped"
        return f"LocalKafka({str(self.work_dir)!r}, {self.bootstrap_servers}, {state})"


def _run_isolated(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    result: list[_T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(factory()))
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=target, name="localkafka-probe", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


_LIVE: set[LocalKafka] = set()


@atexit.register
def _stop_all() -> None:
    for broker in list(_LIVE):
        with contextlib.suppress(Exception):
            broker.stop(timeout=15.0)
