"""What a foreground ``lstmfcn train`` shows while it trains.

Writing to a log (the workflow's jobs: stdout and stderr to a file), it prints the plain epoch
lines every ``--log-every`` epochs, which ``lstmfcn status`` and the campaign read back. On a
terminal (stderr a TTY) it draws a bar on stderr, redrawn every epoch with the loss and the
time left; the epoch lines still go to stdout when stdout is a file, and give way to the bar
when stdout is that terminal too. Every other message prints as it is, above the bar.
"""

from __future__ import annotations

import sys

from ..progress import Progress, duration
from .epoch_line import EpochLine, parse_line


def shows_bar(stderr_tty: bool, log_every: int) -> bool:
    """Whether a run draws a progress bar: on a terminal, unless epoch output is off."""
    return stderr_tty and log_every > 0


class EpochConsole:
    """The ``log`` function a run is trained with (:func:`lstmfcn_bench.training.train`).
    Train with :attr:`log_every` (every epoch while a bar is shown), then :meth:`close`."""

    def __init__(self, log_every: int, *, stdout_tty: bool, stderr_tty: bool):
        self.bar = shows_bar(stderr_tty, log_every)
        self.lines = log_every > 0 and not (self.bar and stdout_tty)
        self.every = log_every
        self.log_every = 1 if self.bar else log_every
        self._progress: Progress | None = None
        self._seconds: list[float] = []  # of the epochs after the first, which compiles
        self._seeds: set[int | None] = set()  # a group's members share each epoch's time

    def __call__(self, message: str) -> None:
        line = parse_line(message)
        if line is None:
            self._print(message)
            return
        if self.lines and (line.epoch % self.every == 0 or line.epoch == line.epochs):
            self._print(message)
        if self.bar:
            self._advance(line)

    def _print(self, message: str) -> None:
        if self._progress is not None:
            self._progress.clear()
        print(message, flush=True)
        if self._progress is not None:
            self._progress.update(self._progress.done)

    def _advance(self, line: EpochLine) -> None:
        bar = self._progress
        if bar is None or line.epoch < bar.done or line.epochs != bar.total:
            self.close()  # a new run (the next seed) starts a new bar
            bar = self._progress = Progress("epoch", line.epochs, True, unit="items")
            self._seconds, self._seeds = [], set()
        self._seeds.add(line.seed)
        if line.epoch > 1:
            self._seconds.append(line.seconds)
        per_member = sum(self._seconds) / len(self._seconds) if self._seconds else line.seconds
        per_epoch = per_member * len(self._seeds)
        seed = "" if line.seed is None else f"seed {line.seed}  "
        # The time left first: a terminal narrower than the line cuts its end.
        bar.detail = (
            f"ETA {duration((line.epochs - line.epoch) * per_epoch)}  {seed}"
            f"loss {line.loss:.5f}  {per_epoch:.3g} s/epoch"
        )
        bar.update(line.epoch)

    def close(self) -> None:
        """End the bar's line (its final state drawn)."""
        if self._progress is not None:
            self._progress.close()
            self._progress = None


def console(log_every: int) -> EpochConsole:
    """The console of this process's terminal (or log)."""
    return EpochConsole(log_every, stdout_tty=sys.stdout.isatty(), stderr_tty=sys.stderr.isatty())
