"""What keeps ``make up`` from leaving processes behind, whatever way the launcher ends.

Two independent guarantees, and a third for ``make up``:

* **Parent-death signal.** Every child the launcher starts asks the kernel (``prctl
  PR_SET_PDEATHSIG``) for SIGTERM when the launcher goes away, even by SIGKILL, so a crashed or
  killed launcher cannot orphan a service. The child also checks, once the signal is armed, that
  its parent is still the launcher: a launcher that died between ``fork`` and ``prctl`` is caught
  too.
* **The launcher dies with ``make``** (``--die-with-parent``, :func:`die_with_parent`): ``make``
  killed by SIGKILL runs no cleanup, so the launcher asks for SIGTERM when its parent goes away
  and stops the stack as for ``kill``. Only ``make up`` passes it: a launcher started by hand
  under ``nohup`` keeps running when its shell goes.
* **A shutdown that cannot fail on output.** ``make up | tee up.log`` + Ctrl-C kills ``tee``
  first; every later ``print`` of the launcher would raise ``BrokenPipeError`` in the middle of
  its cleanup. :func:`say` never raises: once the output is gone, the launcher's stdout is
  pointed at ``/dev/null`` and the cleanup goes on silently.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
from collections.abc import Callable

__all__ = ["die_with_parent", "parent_death_signal", "say"]

_PR_SET_PDEATHSIG = 1
_libc: ctypes.CDLL | None = None
_output_lock = threading.Lock()


def _load_libc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def parent_death_signal(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive ``sig`` when this process dies.

    Call it in the thread that starts the child, right before ``Popen``: Linux sends the signal
    when the *thread* that forked exits, so children must be started from the main thread (the
    launcher does). Everything the child runs is prepared here, before ``fork``: the child only
    calls into libc and compares two integers. Returns None where prctl does not exist.
    """
    libc = _load_libc()
    if libc is None or threading.current_thread() is not threading.main_thread():
        # From another thread the signal would fire when that thread ends, not the process.
        return None
    prctl = libc.prctl
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the launcher died before the signal was armed
            os.kill(os.getpid(), sig)

    return arm


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel for ``sig`` when this process's parent dies (``make up``: ``make`` killed
    outright runs no cleanup, and the launcher must then stop the stack itself). Call it once
    the handler of ``sig`` is installed; if the parent is already gone, ``sig`` is sent now.
    False where prctl does not exist."""
    libc = _load_libc()
    if libc is None:
        return False
    parent = os.getppid()
    libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if parent == 1 or os.getppid() != parent:  # reparented before the signal was armed
        os.kill(os.getpid(), sig)
    return True


def say(text: str = "", *, stream: object | None = None) -> None:
    """Print a line; never raise, whatever happened to the reader of our output."""
    out = stream if stream is not None else sys.stdout
    with _output_lock:
        try:
            print(text, file=out, flush=True)  # type: ignore[arg-type]
        except (BrokenPipeError, ValueError, OSError):
            _silence(out)


def _silence(out: object) -> None:
    """Point ``out``'s file descriptor at /dev/null, so that neither later prints nor the flush at
    interpreter exit meet the broken pipe again."""
    with contextlib.suppress(Exception):
        fileno = out.fileno()  # type: ignore[attr-defined]
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fileno)
        os.close(devnull)
