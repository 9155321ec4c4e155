"""The two mechanisms behind ``make up``'s clean stop, each on its own (fast, no broker)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from devstack.lifetime import parent_death_signal, say


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_say_survives_a_reader_that_went_away() -> None:
    """``| tee`` killed by Ctrl-C: the launcher's next lines must neither raise nor stop it."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    previous = signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as in every Python process
    stream = os.fdopen(write_end, "w")
    try:
        say("• stopping services…", stream=stream)
        say("• stopped.", stream=stream)
        # The descriptor now leads to /dev/null: the flush at exit cannot fail either.
        assert os.readlink(f"/proc/self/fd/{write_end}") == os.devnull
        stream.write("late line\n")
        stream.flush()
    finally:
        stream.close()
        signal.signal(signal.SIGPIPE, previous)


def test_a_child_started_with_the_parent_death_signal_dies_with_its_parent(
    tmp_path: Path,
) -> None:
    """A launcher SIGKILLed runs no cleanup: the kernel must stop its children for it."""
    pid_file = tmp_path / "child.pid"
    launcher = textwrap.dedent(
        f"""
        import subprocess, sys, time
        from devstack.lifetime import parent_death_signal
        arm = parent_death_signal()
        assert arm is not None, "no prctl on this system"
        child = subprocess.Popen(["sleep", "120"], preexec_fn=arm, start_new_session=True)
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(120)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", launcher], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert proc.poll() is None, "the launcher died before starting its child"
            assert time.monotonic() < deadline, "the child was never started"
            time.sleep(0.05)
        child = int(pid_file.read_text())
        assert _alive(child)
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the child outlived its SIGKILLed parent"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if pid_file.exists() and pid_file.read_text() and _alive(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_no_parent_death_signal_from_another_thread() -> None:
    """Linux fires it when the forking *thread* exits: from a worker thread it would kill the
    child too early, so none is armed there."""
    import threading

    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(parent_death_signal()))
    thread.start()
    thread.join()
    assert result == [None]
    assert parent_death_signal() is not None
