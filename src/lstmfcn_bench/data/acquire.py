"""Getting the raw files of one UCR dataset into a local cache, real and verified.

Sources: the UCR 2018 archive zip (TSV members, ZipCrypto), the per-dataset
zips of the timeseriesclassification.com mirror that aeon/sktime use (.ts/.arff/.txt), the
package's embedded demo zips, or a local directory / ``file://`` URL holding any of those.

Cache layout (all under ``cache_dir``)::

    downloads/<host>-<key>/<file>          verified downloads, shared by every dataset
    downloads/<host>-<key>/<file>.sha256   their sha256, in ``sha256sum`` format
    raw/<Name>/<Name>_TRAIN.<ext>, _TEST   the two raw split files, plus manifest.json

Temporary files and lock files are dot files directly in ``cache_dir``; no call leaves one
behind, and a failed call leaves no download, no temp file and no raw directory (the only
exception: a download that passed verification is kept when the archive is fine but cannot be
used as asked, e.g. a wrong password, so that a retry does not fetch 300 MB again).

The steps, one module each: ``fetch_plan`` (what to fetch, no network), ``download`` (the
verified download cache), ``checksums`` (``resources/checksums.json``), ``extract`` (safe zip
extraction), ``split_files`` (which files are the splits), ``raw_cache`` (the raw folder and
its manifest) and ``locks`` (sharing the cache between processes).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from ..atomic import check_writable
from ..errors import ConfigError
from .download import download_path, remove_download
from .fetch_plan import UCR2018_PASSWORD, plan_fetch
from .locks import locked, prune_empty
from .raw_cache import RawFiles, prepare_raw, reuse_raw

__all__ = ["RawFiles", "discard", "fetch_raw"]


def fetch_raw(
    name: str,
    source: str | os.PathLike | None,
    cache_dir: Path,
    *,
    sha256: str | None = None,
    progress: bool = True,
    password: bytes = UCR2018_PASSWORD,
) -> RawFiles:
    """Bring the raw train/test files of dataset ``name`` (a 2018 name) into ``cache_dir``.

    ``source``: None (embedded demo zip, else the TSC mirror), a URL or path of a ``.zip``
    archive (the UCR 2018 archive, or a per-dataset zip), another http(s) URL (base of
    per-dataset zips), or a local directory / ``file://`` URL. ``sha256`` pins the archive (or,
    for a plain directory, train+test concatenated). A verified cached copy is reused.
    """
    if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", name):
        raise ConfigError(f"invalid dataset name {name!r}")
    cache_dir = Path(cache_dir)
    check_writable(cache_dir, "download cache (--cache)", folder=True)  # before any download
    cache_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(password, str):
        password = password.encode()
    if sha256 is not None:
        sha256 = sha256.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ConfigError(f"sha256 {sha256!r} is not 64 hexadecimal digits")
    plan = plan_fetch(name, source)
    with locked(cache_dir / f".lock-raw-{name}"):
        cached = reuse_raw(cache_dir, name, plan, sha256)
        if cached is not None:
            return cached
        return prepare_raw(cache_dir, name, plan, sha256, progress, password)


def discard(raw: RawFiles, cache_dir: Path) -> None:
    """Forget a dataset whose files turned out malformed: its raw folder and, for a
    per-dataset download, the download itself (the shared UCR 2018 archive stays: its other
    datasets are fine)."""
    cache_dir = Path(cache_dir)
    with locked(cache_dir / f".lock-raw-{raw.name}"):
        folder = cache_dir / "raw" / raw.name
        if folder.is_dir():
            shutil.rmtree(folder)
        prune_empty(folder.parent, cache_dir)
    if raw.layout == "tsc":
        dest = download_path(cache_dir, raw.source)
        if dest.exists():
            remove_download(cache_dir, dest)
