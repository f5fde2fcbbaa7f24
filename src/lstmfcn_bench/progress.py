"""Progress of long work as one stderr line redrawn in place (downloads, extraction, figures,
a foreground training run)."""

from __future__ import annotations

import shutil
import sys
import time

#: Redraw at most this often; the final state is always drawn.
REDRAW_EVERY_S = 0.25
BAR_WIDTH = 30


class Progress:
    """``label: 42% (1.2 of 3.0 MB)`` for bytes, ``label [####......] 12/40`` for items.

    Nothing is written when ``enabled`` is false; :meth:`close` draws the final state and ends
    the line. ``total`` may be unknown (None) for bytes.
    """

    def __init__(self, label: str, total: int | None, enabled: bool, unit: str = "bytes"):
        if unit not in ("bytes", "items"):
            raise ValueError(f"unit must be 'bytes' or 'items', got {unit!r}")
        self.label, self.total, self.enabled, self.unit = label, total, enabled, unit
        self.done = 0
        self.detail = ""  # shown after the counts (a training run's loss and ETA)
        self._last = 0.0
        self._width = 0

    def update(self, done: int) -> None:
        """Set the amount done so far."""
        self.done = done
        now = time.monotonic()
        if self.enabled and now - self._last >= REDRAW_EVERY_S:
            self._last = now
            self._draw()

    def advance(self, n: int) -> None:
        self.update(self.done + n)

    def close(self) -> None:
        if self.enabled:
            self._draw()
            sys.stderr.write("\n")
            sys.stderr.flush()

    def clear(self) -> None:
        """Blank the line, so that a message can be printed where the bar was; the next
        :meth:`update` draws it again at once."""
        if self.enabled and self._width:
            sys.stderr.write("\r" + " " * self._width + "\r")
            sys.stderr.flush()
            self._last, self._width = 0.0, 0

    def text(self, columns: int | None = None) -> str:
        """The line to draw; within ``columns``, the bar gives up its width before the count,
        the ETA and the detail do."""
        if self.unit == "items":
            total = max(self.total or 0, 1)
            done = min(self.done, total)
            count = f"] {done}/{total}" + (f"  {self.detail}" if self.detail else "")
            room = BAR_WIDTH if columns is None else columns - len(self.label) - 2 - len(count)
            width = max(0, min(BAR_WIDTH, room))
            filled = width * done // total
            bar = f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
            return f"{bar}  {self.detail}" if self.detail else bar
        mb = self.done / 1e6
        if self.total:
            pct = 100 * self.done // self.total
            return f"{self.label}: {pct:3d}% ({mb:.1f} of {self.total / 1e6:.1f} MB)"
        return f"{self.label}: {mb:.1f} MB"

    def _draw(self) -> None:
        # A line wider than the terminal wraps, and "\r" then redraws only its last part.
        columns = shutil.get_terminal_size().columns - 1
        text = self.text(columns)[:columns]
        self._width = max(self._width, len(text))
        sys.stderr.write("\r" + text.ljust(self._width))
        sys.stderr.flush()


def duration(seconds: float | None) -> str:
    """``45s``, ``3m07s``, ``5h04m``, ``2d03h``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 48 * 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"
