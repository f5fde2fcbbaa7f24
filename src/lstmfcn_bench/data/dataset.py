"""A prepared dataset on disk: parsed once, read by every later step without reparsing.

Layout per dataset (``<root>/<Name>/``):
- ``data.npz``  — X_train, y_train, X_test, y_test (float32 / int64), lengths_train, lengths_test
- ``meta.json`` — where it came from (source, sha256s), shapes, classes, preprocessing, missing
  values filled. Written last: its presence marks a complete dataset, so ``load`` removes it
  from a damaged one (and the workflow's fetch rule, whose output it is, runs again).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_write, atomic_write_text, check_writable, sha256_file
from ..errors import DataFormatError, LstmfcnError
from . import registry

DATA_FILE = "data.npz"
META_FILE = "meta.json"
#: Where prepared datasets go unless told otherwise (the workflow's, and the CLI's --root).
DEFAULT_ROOT = Path("results/data")


def default_cache_dir() -> Path:
    """Where raw downloads are kept: $LSTMFCN_CACHE, else ~/.cache/lstmfcn-bench."""
    env = os.environ.get("LSTMFCN_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "lstmfcn-bench"


@dataclass
class Dataset:
    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    lengths_train: np.ndarray
    lengths_test: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return int(self.meta["n_classes"])

    @property
    def length(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])


def dataset_dir(name: str, root: Path) -> Path:
    return Path(root) / registry.canonical_name(name)


def prepare(
    name: str,
    root: Path = DEFAULT_ROOT,
    *,
    source: str | os.PathLike | None = None,
    cache_dir: Path | None = None,
    normalise: str = "series",
    missing: str = "interpolate",
    sha256: str | None = None,
    progress: bool = True,
    password: str | None = None,
) -> Path:
    """Fetch, parse and preprocess one dataset into ``<root>/<Name>/``; returns that folder.

    Everything that can fail (download, verification, parsing, label checks) runs before the
    first byte is written under ``root``; an unusable ``root`` or cache stops before all that.
    """
    # Imported here so `lstmfcn datasets` stays fast and light.
    from .acquire import discard, fetch_raw
    from .formats import read_split
    from .preprocess import MIN_CLASSES, check_options, prepare_splits

    canon = registry.canonical_name(name)
    check_options(normalise, missing)
    out = Path(root) / canon
    check_writable(out, f"--root {root}: dataset folder", folder=True)  # fetch_raw: the cache
    cache = Path(cache_dir or default_cache_dir())
    extra = {"password": password.encode()} if password else {}
    raw = fetch_raw(canon, source, cache, sha256=sha256, progress=progress, **extra)
    try:
        prepared = prepare_splits(
            read_split(raw.train),
            read_split(raw.test),
            normalise=normalise,
            missing=missing,
            min_classes=MIN_CLASSES,
        )
    except DataFormatError as e:
        discard(raw, cache)  # malformed files must not stay in the cache as if they were good
        # ... and the message must not send the user to the copies just removed
        raise DataFormatError(raw.relabel(str(e))) from None

    arrays = {
        "X_train": prepared.X_train,
        "y_train": prepared.y_train,
        "X_test": prepared.X_test,
        "y_test": prepared.y_test,
        "lengths_train": prepared.lengths_train,
        "lengths_test": prepared.lengths_test,
    }
    data_path = out / DATA_FILE
    meta_path = out / META_FILE
    meta_path.unlink(missing_ok=True)  # an old meta must not vouch for new data mid-write
    atomic_write(data_path, lambda f: np.savez(f, **arrays))

    info = registry.registry()[canon]
    meta = {
        "name": canon,
        "name_2015": registry.name_2015(canon),
        "type": info.type,
        "n_train": int(prepared.X_train.shape[0]),
        "n_test": int(prepared.X_test.shape[0]),
        "classes": prepared.classes,
        **prepared.meta,
        "source": raw.source,
        "layout": raw.layout,
        "archive_sha256": raw.sha256,
        "raw_files": {
            "train": {"name": raw.train.name, "sha256": sha256_file(raw.train)},
            "test": {"name": raw.test.name, "sha256": sha256_file(raw.test)},
        },
        "data_sha256": sha256_file(data_path),
        "registry_mismatch": _registry_mismatch(info, prepared),
    }
    atomic_write_text(meta_path, json.dumps(meta, indent=2) + "\n")
    return out


def _registry_mismatch(info: registry.DatasetInfo, prepared) -> list[str]:
    """Differences between the parsed data and the official summary (should be empty)."""
    found = {
        "n_train": prepared.X_train.shape[0],
        "n_test": prepared.X_test.shape[0],
        "n_classes": len(prepared.classes),
    }
    if info.length is not None:
        found["length"] = prepared.X_train.shape[1]
    return [
        f"{key}: summary says {getattr(info, key)}, files have {value}"
        for key, value in found.items()
        if getattr(info, key) != value
    ]


class _Damaged(Exception):
    """What is wrong with a prepared dataset on disk."""


def load(name: str, root: Path = DEFAULT_ROOT) -> Dataset:
    """Read a prepared dataset, checked against its meta.json (sha256 of data.npz); a clear
    error says how to prepare it when it is missing or damaged."""
    folder = dataset_dir(name, root)
    meta_path = folder / META_FILE
    try:
        marker = meta_path.read_bytes()
    except FileNotFoundError:
        raise LstmfcnError(
            f"dataset {folder.name!r} has not been fetched into {Path(root)} "
            f"(no {meta_path}); run: lstmfcn fetch {folder.name} --root {root}"
        ) from None
    try:
        meta = _checked_meta(folder, marker)
    except _Damaged as e:
        _drop_marker(meta_path, marker)
        raise LstmfcnError(
            f"prepared dataset {folder} is damaged: {e}; its {META_FILE} was removed so that "
            f"the workflow fetches it again on its next run; or fetch it again now: "
            f"lstmfcn fetch {folder.name} --root {root}"
        ) from None
    with np.load(folder / DATA_FILE) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return Dataset(name=folder.name, meta=meta, **arrays)


def _checked_meta(folder: Path, marker: bytes) -> dict:
    """meta.json's content, once it parses and data.npz has the sha256 it records."""
    try:
        meta = json.loads(marker)
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise _Damaged(f"{META_FILE} is not valid JSON ({e})") from None
    expected = meta.get("data_sha256") if isinstance(meta, dict) else None
    if not isinstance(expected, str):
        raise _Damaged(f"{META_FILE} records no data_sha256")
    try:
        actual = sha256_file(folder / DATA_FILE)
    except FileNotFoundError:
        raise _Damaged(f"{DATA_FILE} is missing") from None
    except OSError as e:
        raise _Damaged(f"{DATA_FILE} cannot be read ({e.strerror or e})") from None
    if actual != expected:
        raise _Damaged(
            f"{DATA_FILE} has sha256 {actual}, but {META_FILE} records {expected} "
            "(truncated or overwritten)"
        )
    return meta


def _drop_marker(meta_path: Path, marker: bytes) -> None:
    """Remove meta.json as read, not one that a concurrent fetch has written since."""
    with contextlib.suppress(FileNotFoundError):
        if meta_path.read_bytes() == marker:
            meta_path.unlink()
