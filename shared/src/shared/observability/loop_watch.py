"""How late the event loop runs, and where it was when it stalled.

A service is one event loop: while one callback holds it (Python work between two ``await``), no
request is answered and no record consumed. :class:`LoopWatch` measures that:

- a task sleeps :attr:`LoopWatch.interval` again and again and records, each time, how much later
  than asked it woke up (``coop_event_loop_lag_seconds``, a histogram): the loop's lag, what a
  request arriving then waits before its first line runs;
- a daemon thread looks every interval at when the task last woke up. Once the loop has been held
  longer than :attr:`LoopWatch.stall_seconds`, it takes the loop thread's stack (code locations
  only: file, line, function — never a local variable) and the task, when it wakes again, logs
  one warning ``event loop stalled`` with the stall's length and that stack (``frames``). That
  names the code that held the loop, whatever the loop (uvloop has no slow-callback report).

What it costs: one timer every 50 ms on the loop and one thread waking as often (a few
microseconds each).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
import traceback

import structlog

from shared.observability.metrics import EVENT_LOOP_LAG

log = structlog.get_logger(__name__)

#: Frames kept of a stalled loop's stack, innermost last.
STACK_FRAMES = 12


class LoopWatch:
    """The lag probe and the stall watchdog of one event loop (one per process)."""

    def __init__(self, service: str, *, interval: float = 0.05, stall_seconds: float = 0.25):
        self.service = service
        self.interval = interval
        #: 0 turns the watchdog thread off (the lag is still measured).
        self.stall_seconds = stall_seconds
        self._beat = time.monotonic()
        self._stack: list[str] | None = None
        self._loop_thread = threading.get_ident()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._lag = EVENT_LOOP_LAG.labels(service=service)
        #: Stalls longer than :attr:`stall_seconds` seen since start (for the bench and tests).
        self.stalls = 0

    async def run(self, stopping: asyncio.Event) -> None:
        """Until ``stopping`` is set (seen within one interval): measure the lag at every tick;
        start and stop the watchdog."""
        self._loop_thread = threading.get_ident()
        self._beat = time.monotonic()
        if self.stall_seconds > 0:
            self._stopped.clear()
            self._thread = threading.Thread(
                target=self._watch, name=f"loop-watch-{self.service}", daemon=True
            )
            self._thread.start()
        try:
            while not stopping.is_set():
                asked = time.monotonic()
                await asyncio.sleep(self.interval)
                woke = time.monotonic()
                lag = max(0.0, woke - asked - self.interval)
                self._beat = woke
                self._lag.observe(lag)
                if self.stall_seconds > 0 and lag >= self.stall_seconds:
                    self.stalls += 1
                    stack, self._stack = self._stack, None
                    log.warning(
                        "event loop stalled",
                        stalled_ms=round(lag * 1000),
                        # Not ``stack``: structlog's renderers take that key for a formatted one.
                        frames=stack or ["(not taken: the watchdog did not run during the stall)"],
                    )
        finally:
            self._stopped.set()
            if self._thread is not None:
                await asyncio.to_thread(self._thread.join, 1.0)
                self._thread = None

    def _watch(self) -> None:
        taken_for = -1.0
        while not self._stopped.wait(self.interval):
            beat = self._beat
            if beat == taken_for or time.monotonic() - beat < self.stall_seconds:
                continue
            taken_for = beat  # one stack per stall, taken once it passes the threshold
            frame = sys._current_frames().get(self._loop_thread)
            if frame is None:
                continue
            with contextlib.suppress(Exception):
                # Locations only: no source line read (linecache) in this thread.
                summary = traceback.StackSummary.extract(
                    traceback.walk_stack(frame), limit=STACK_FRAMES, lookup_lines=False
                )
                self._stack = [
                    f"{_short(f.filename)}:{f.lineno} {f.name}" for f in reversed(summary)
                ]


def _short(filename: str) -> str:
    """A file's path from its package on (``.../site-packages/sqlalchemy/orm/session.py`` →
    ``sqlalchemy/orm/session.py``)."""
    for marker in ("/site-packages/", "/src/", "/lib/python"):
        at = filename.rfind(marker)
        if at >= 0:
            return filename[at + len(marker) :]
    return filename
