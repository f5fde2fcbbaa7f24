"""Sharing the download cache between processes: exclusive file locks, and creating and
pruning folders so that concurrent calls do not trip over one another.

Lock files are dot files directly in the cache folder, removed on release.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, one process at a time
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive flock on ``path``, which is removed on release.

    Removing it is safe because a waiter re-checks, once it holds the lock, that the path still
    names the file it locked, and starts over if not.
    """
    if fcntl is None:  # pragma: no cover
        yield
        return
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            mine = os.fstat(fd)
            try:
                now = os.stat(path)
                same = (now.st_ino, now.st_dev) == (mine.st_ino, mine.st_dev)
            except FileNotFoundError:
                same = False
        except BaseException:
            os.close(fd)
            raise
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)


def mkdir_then(folder: Path, action) -> None:
    """mkdir -p then act; retried because a concurrent prune_empty may remove the folder."""
    for attempt in range(5):
        folder.mkdir(parents=True, exist_ok=True)
        try:
            action()
            return
        except FileNotFoundError:
            if attempt == 4 or folder.exists():
                raise


def prune_empty(folder: Path, stop: Path) -> None:
    """Remove empty folders from ``folder`` up to (not including) ``stop``."""
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
