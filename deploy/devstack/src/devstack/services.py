"""The three services as real processes (``python -m <service> serve``), with their own stores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devstack.lifetime import parent_death_signal

#: name → default HTTP port
SERVICES: dict[str, int] = {"referral": 8001, "dispositifs": 8002, "notifications": 8003}


def service_env(
    name: str, *, database_url: str, bootstrap_servers: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment of one service process: only its own prefixed variables matter to it."""
    prefix = name.upper() + "_"
    env = dict(os.environ)
    env[prefix + "DATABASE_URL"] = database_url
    env[prefix + "KAFKA_BOOTSTRAP_SERVERS"] = bootstrap_servers
    env.setdefault(prefix + "ENVIRONMENT", "development")  # the development secret, explicitly
    for key, value in (extra or {}).items():
        env[prefix + key] = value
    return env


def run_cli(name: str, command: str, env: dict[str, str]) -> str:
    """Run ``python -m <name> <command>`` (migrate, seed) and return its output."""
    result = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", name, command],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        preexec_fn=parent_death_signal(),  # a libc call only, prepared before the fork
    )
    if result.returncode != 0:
        raise RuntimeError(f"{name} {command} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip()


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    host: str = "127.0.0.1"
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [
                sys.executable,
                "-m",
                self.name,
                "serve",
                "--host",
                self.host,
                "--port",
                str(self.port),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Ctrl-C goes to the launcher only, which stops the services in order; if the
            # launcher dies instead (SIGKILL, crash), the kernel sends the service SIGTERM.
            start_new_session=True,
            preexec_fn=parent_death_signal(),  # a libc call only, prepared before the fork
        )
        log.close()

    def wait_ready(self, timeout: float = 90.0) -> dict[str, object]:
        """Wait for ``/health/ready`` to answer 200; raise with its last body otherwise."""
        deadline = time.monotonic() + timeout
        last: object = "no answer"
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self._proc.returncode}; see {self.log_path}:\n"
                    + self.log_tail()
                )
            try:
                response = httpx.get(f"{self.url}/health/ready", timeout=5)
                last = response.json()
                if response.status_code == 200:
                    return response.json()  # type: ignore[no-any-return]
            except (httpx.HTTPError, ValueError) as exc:
                last = str(exc)
            time.sleep(0.3)
        raise TimeoutError(f"{self.name} not ready after {timeout:.0f}s: {last}\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (graceful: consumers commit and leave their group), SIGKILL as a last resort."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        _signal_group(proc, signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            return proc.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Signal the service's own session (its pid is the group id), anything it started included."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        proc.send_signal(sig)
