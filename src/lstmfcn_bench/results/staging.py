"""Writing several files into one folder all together or not at all, one writer at a time.

:func:`exclusive` holds a folder's lock file; :class:`Staging` writes each file first into a
staging folder inside the target (the same filesystem, so placing it is one rename), checks
what it staged, then moves the files into place one by one, keeping a copy of every file it
replaces. If a move fails, every file already moved is put back and every folder it made is
removed: the target ends byte-identical. Any file can be staged (records, histories, weights).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ..atomic import sha256_file
from ..data.locks import locked, mkdir_then, prune_empty
from ..errors import LstmfcnError

#: Staging folders are dot folders directly in the target, named with this prefix.
PREFIX = ".staging-"
#: The lock file of a folder being written, beside them (removed on release).
LOCK = ".write.lock"


def place(staged: Path, dest: Path) -> None:
    """The final move of one staged file into place: one rename within a filesystem."""
    os.replace(staged, dest)


def _first_missing(folder: Path) -> Path | None:
    """The topmost folder of ``folder``'s path that does not exist yet (None if it exists)."""
    missing = None
    while not folder.exists():
        missing, folder = folder, folder.parent
    return missing


@contextlib.contextmanager
def exclusive(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` (made if missing, and removed again if it is still empty
    at the end): whoever holds it decides what to write and writes it with no one in between.

    A staging folder found under the lock was left by an interrupted writer: an error, as it
    may hold the only copy of files that writer replaced."""
    folder = Path(folder)
    made = _first_missing(folder)
    try:
        with contextlib.ExitStack() as stack:
            # Retried if another writer removes the folder, empty, before the lock is taken.
            mkdir_then(folder, lambda: stack.enter_context(locked(folder / LOCK)))
            stale = sorted(folder.glob(PREFIX + "*"))
            if stale:
                raise LstmfcnError(
                    f"{stale[0]} was left by an interrupted write (its backup/ holds the files "
                    f"it replaced, its new/ those it was writing); restore or remove it first"
                )
            yield
    finally:
        if made is not None:
            prune_empty(folder, made.parent)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


class Staging:
    """Files staged for one folder, which :meth:`commit` writes there together or not at all.

    Use it as a context manager, under :func:`exclusive`: the staging folder is removed on
    exit, unless a failed commit could not put every file back (the error then names it)."""

    def __init__(self, target: Path):
        self.target = Path(target)
        self.folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=self.target))
        self.digests: dict[Path, str] = {}  # relative path -> sha256 of what was staged
        self.removals: list[Path] = []  # relative paths commit removes
        self.made: list[Path] = []  # folders commit created, in creation order
        self.keep = False

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc) -> None:
        if not self.keep:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _staged(self, rel: Path, part: str = "new") -> Path:
        return self.folder / part / rel

    def _new(self, rel: Path | str) -> Path:
        rel = Path(rel)
        if rel.is_absolute() or ".." in rel.parts or rel in self.digests or rel in self.removals:
            raise ValueError(f"{rel}: not a new path relative to {self.target}")
        path = self._staged(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def add_bytes(self, rel: Path | str, data: bytes) -> None:
        """Stage ``data`` as the file ``rel`` of the target."""
        _write_synced(self._new(rel), data)
        self.digests[Path(rel)] = hashlib.sha256(data).hexdigest()

    def add_file(self, rel: Path | str, source: Path) -> None:
        """Stage a copy of the file ``source`` as the file ``rel`` of the target."""
        data = Path(source).read_bytes()
        self.add_bytes(rel, data)

    def add_written(self, rel: Path | str, write: Callable[[Path], object]) -> Path:
        """Stage the file ``rel`` of the target as ``write(path)`` writes it (e.g. a model that
        Keras saves); returns the staged path."""
        path = self._new(rel)
        write(path)
        self.digests[Path(rel)] = sha256_file(path)
        return path

    def remove(self, rel: Path | str) -> None:
        """Remove the file ``rel`` of the target when the others are placed (and put it back
        if they cannot be)."""
        rel = Path(rel)
        if rel.is_absolute() or ".." in rel.parts or rel in self.digests or rel in self.removals:
            raise ValueError(f"{rel}: not a path of {self.target} to remove")
        self.removals.append(rel)

    def verify(self) -> None:
        """Every staged file holds what was staged, and its place is not a folder."""
        for rel, digest in self.digests.items():
            if sha256_file(self._staged(rel)) != digest:
                raise LstmfcnError(
                    f"nothing written to {self.target}: the staged copy of {rel} does not "
                    "hold what was written to it"
                )
            if (self.target / rel).is_dir():
                raise LstmfcnError(f"nothing written: {self.target / rel} is a folder")

    def commit(self) -> None:
        """Move every staged file into place and remove the files to remove, or, if one of
        these fails, none."""
        self.verify()
        moved: list[tuple[Path, Path | None]] = []  # (place, backup of what it held)
        for rel in [*self.digests, *self.removals]:
            dest = self.target / rel
            try:
                backup = self._back_up(rel, dest)
                # Noted before the move: an interruption right after it is put back too.
                moved.append((dest, backup))
                if rel in self.digests:
                    self._make_folders(dest.parent)
                    place(self._staged(rel), dest)
                else:
                    dest.unlink(missing_ok=True)
            except OSError as e:
                self._roll_back(moved)
                raise LstmfcnError(
                    f"nothing written to {self.target}: cannot "
                    f"{'write' if rel in self.digests else 'remove'} {dest} "
                    f"({e.strerror or e}); every file there is as it was"
                ) from None
            except BaseException:  # Ctrl-C or a signal half-way: put back, then stop
                self._roll_back(moved)
                raise

    def _back_up(self, rel: Path, dest: Path) -> Path | None:
        if not dest.exists():
            return None
        backup = self._staged(rel, "backup")
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(dest, backup)
        return backup

    def _make_folders(self, folder: Path) -> None:
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for f in reversed(missing):
            f.mkdir()
            self.made.append(f)

    def _roll_back(self, moved: list[tuple[Path, Path | None]]) -> None:
        left = []
        for dest, backup in reversed(moved):
            try:
                if backup is None:
                    if dest.is_file():  # not there: its move never happened
                        dest.unlink()
                else:
                    os.replace(backup, dest)
            except OSError:
                left.append(str(dest))
        for folder in reversed(self.made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        if left:
            self.keep = True
            raise LstmfcnError(
                f"writing to {self.target} failed and {len(left)} file(s) could not be put "
                f"back ({', '.join(left)}); what they held is in {self.folder / 'backup'}"
            )
