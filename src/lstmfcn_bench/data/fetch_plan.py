"""Resolving a dataset name and a data source into what to fetch, without touching the network.

Sources: the UCR 2018 archive zip, the per-dataset zips of the timeseriesclassification.com
mirror that aeon/sktime use, the package's embedded demo zips, or a local directory /
``file://`` URL holding any of those (see ``acquire.fetch_raw``).
"""

from __future__ import annotations

import os
import urllib.parse
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..atomic import sha256_file
from ..errors import ConfigError
from .split_files import SPLITS, candidates, pick

UCR2018_URL = "https://www.cs.ucr.edu/~eamonn/time_series_data_2018/UCRArchive_2018.zip"
#: Published in the UCR 2018 archive's briefing document.
UCR2018_PASSWORD = b"someone"
#: Base of the per-dataset zips (``<base><Name>.zip``) used by aeon/sktime.
TSC_BASE_URL = "https://www.timeseriesclassification.com/aeon-toolkit/"

UCR2018_DIR = "UCRArchive_2018"
UCR2018_ZIP = "UCRArchive_2018.zip"


@dataclass(frozen=True)
class FetchPlan:
    """Where the files will come from, resolved without touching the network."""

    kind: str  # "url" (download a zip) | "zip" (local zip) | "dir" (plain split files)
    source: str
    origin: str = ""  # for the checksum table: "demo" | "ucr2018" | "tsc"
    path: Path | None = None
    train: Path | None = None
    test: Path | None = None
    digest: str | None = None  # sha256 of train+test, for "dir"

    @property
    def stamp(self) -> str | None:
        """Size and mtime of a local archive: a replaced archive is extracted again."""
        if self.kind != "zip" or self.path is None:
            return None
        st = self.path.stat()
        return f"{st.st_size}:{st.st_mtime_ns}"


def _demo_zip(name: str) -> Path | None:
    res = resources.files("lstmfcn_bench").joinpath("resources", "demo", f"{name}.zip")
    return Path(str(res)) if res.is_file() else None


def plan_fetch(name: str, source: str | os.PathLike | None) -> FetchPlan:
    """Where dataset ``name`` comes from for ``source`` (see ``acquire.fetch_raw``); a
    ConfigError when a local source holds no data for it."""
    if source is None:
        demo = _demo_zip(name)
        if demo is not None:
            return FetchPlan("zip", str(demo), origin="demo", path=demo)
        source = TSC_BASE_URL
    text = os.fspath(source)
    path = _local_path(text)
    if path is None:  # http(s)
        parts = urllib.parse.urlsplit(text)
        if parts.path.lower().endswith(".zip"):
            origin = "ucr2018" if parts.path.endswith(UCR2018_ZIP) else "tsc"
            return FetchPlan("url", text, origin=origin)
        base = text if text.endswith("/") else text + "/"
        url = urllib.parse.urljoin(base, urllib.parse.quote(name) + ".zip")
        return FetchPlan("url", url, origin="tsc")
    if path.is_dir():
        return _plan_dir(name, path)
    if path.suffix.lower() == ".zip":
        if not path.is_file():
            raise ConfigError(f"data source {text!r}: no such archive {path}")
        origin = "ucr2018" if path.name == UCR2018_ZIP else "tsc"
        return FetchPlan("zip", str(path), origin=origin, path=path)
    raise ConfigError(
        f"data source {text!r} is neither an http(s) URL, an existing directory nor a .zip "
        f"archive ({path} does not exist)"
    )


def _local_path(text: str) -> Path | None:
    """The local path a source names (a path or a ``file://`` URL); None for http(s)."""
    parts = urllib.parse.urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return None
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(f"cannot use {text!r}: only local file:// URLs are supported")
        return Path(urllib.request.url2pathname(parts.path))
    if "://" in text:
        raise ConfigError(f"unsupported data source {text!r}: use http(s)://, file:// or a path")
    return Path(text).expanduser()


def local_folder(source: str | os.PathLike | None) -> Path | None:
    """The local folder a source names (a path or a ``file://`` URL), or None: no source, an
    http(s) URL, an archive, nothing there. ConfigError for a source no fetch can use (another
    scheme, a file:// URL of another host)."""
    if source is None:
        return None
    path = _local_path(os.fspath(source))
    return path if path is not None and path.is_dir() else None


def _plan_dir(name: str, d: Path) -> FetchPlan:
    """Layout detection in a directory, in a fixed order (see fetch_raw)."""
    looked: list[str] = []
    cands = candidates(name)
    for c in cands:
        looked.append(f"{c}.zip")
        if (d / f"{c}.zip").is_file():
            return FetchPlan("zip", str(d / f"{c}.zip"), origin="tsc", path=d / f"{c}.zip")
    looked.append(UCR2018_ZIP)
    if (d / UCR2018_ZIP).is_file():
        return FetchPlan("zip", str(d / UCR2018_ZIP), origin="ucr2018", path=d / UCR2018_ZIP)
    folders = [d / UCR2018_DIR / c for c in cands] + [d / c for c in cands]
    for folder in folders:
        rel = folder.relative_to(d).as_posix()
        looked.append(f"{rel}/{folder.name}_TRAIN{{.ts,.tsv,.arff,.txt,}}")
        if not folder.is_dir():
            continue
        picked = pick((p.name for p in folder.iterdir() if p.is_file()), name)
        if not picked:
            continue
        missing = [s for s in SPLITS if s not in picked]
        if missing:
            raise ConfigError(f"{folder} has no {missing[0]} split file for {name}")
        train, test = folder / picked["TRAIN"], folder / picked["TEST"]
        return FetchPlan(
            "dir",
            str(folder),
            train=train,
            test=test,
            digest=sha256_file(train, test),
        )
    raise ConfigError(f"{d} holds no data for {name}: looked for {', '.join(looked)}")
