"""A run's training time, less the spans its process was suspended.

``kill -STOP`` (a campaign paused while something else measures), SLURM's ``scontrol
suspend`` and a shell's Ctrl-Z stop every thread of a process while the wall clock goes on: a
run's recorded seconds, which the README's compute line sums, would count the pause as
training. While entered, :class:`RunClock` keeps a heartbeat thread that sleeps ``tick``
seconds at a time; a sleep that ends more than ``suspended_after`` seconds late means the
process did not run meanwhile, and that span is left out of :meth:`RunClock.elapsed`. A busy
CPU delays a sleeper by milliseconds, far below the threshold; a machine's own sleep is already
left out by the monotonic clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: The heartbeat's sleep, and how late it may wake before the gap counts as suspended.
TICK_S = 1.0
SUSPENDED_AFTER_S = 5.0


class RunClock:
    """Seconds since entering, less the spans the process was suspended (``suspended``)."""

    def __init__(
        self,
        log: Callable[[str], None] | None = None,
        tick: float = TICK_S,
        suspended_after: float = SUSPENDED_AFTER_S,
    ):
        self._log, self._tick, self._after = log, tick, suspended_after
        self.suspended = 0.0
        self._start = self._beat = time.perf_counter()
        self._done = threading.Event()
        self._lock = threading.Lock()  # suspended and the last beat change together
        self._thread = threading.Thread(target=self._heartbeat, name="run-clock", daemon=True)

    def _late(self, now: float) -> float:
        """How much of the time since the last beat is a suspension (0.0 if none)."""
        gap = now - self._beat - self._tick
        return gap if gap > self._after else 0.0

    def _heartbeat(self) -> None:
        while not self._done.wait(self._tick):
            with self._lock:
                now = time.perf_counter()
                self.suspended += self._late(now)
                self._beat = now

    def elapsed(self) -> float:
        """Seconds since entering, without the suspensions (one that just ended included,
        before the heartbeat has woken to count it)."""
        with self._lock:
            now = time.perf_counter()
            return now - self._start - self.suspended - self._late(now)

    def __enter__(self) -> RunClock:
        self._start = self._beat = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        if self.suspended and self._log is not None:
            self._log(f"not counted as training: {self.suspended:.0f}s while suspended")
