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

``resources/checksums.json`` maps a file name to ``{"sha256", "size", "origin"}``; an entry
applies only to files of that origin (``demo``, ``ucr2018``, ``tsc``), because a mirror's
``GunPoint.zip`` is not the same file as the embedded demo ``GunPoint.zip``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, one process at a time
    fcntl = None  # type: ignore[assignment]

from .. import __version__
from ..atomic import check_writable, sha256_file
from ..errors import ArchiveError, ChecksumError, ConfigError, DownloadError, LstmfcnError
from ..progress import Progress
from .registry import ALIASES_2015

UCR2018_URL = "https://www.cs.ucr.edu/~eamonn/time_series_data_2018/UCRArchive_2018.zip"
#: Published in the UCR 2018 archive's briefing document.
UCR2018_PASSWORD = b"someone"
#: Base of the per-dataset zips (``<base><Name>.zip``) used by aeon/sktime.
TSC_BASE_URL = "https://www.timeseriesclassification.com/aeon-toolkit/"

UCR2018_DIR = "UCRArchive_2018"
UCR2018_ZIP = "UCRArchive_2018.zip"
MANIFEST = "manifest.json"
#: Split-file formats, most preferred first: .ts carries its own metadata; .txt and no
#: extension are the 2015 archive's format.
FORMATS = (".ts", ".tsv", ".arff", ".txt", "")
_SPLITS = ("TRAIN", "TEST")
_CHUNK = 1 << 20
_TIMEOUT_S = 60
_PROGRESS_MIN_EXTRACT = 8 << 20  # only big members: decrypting runs at about 1 MB/s
#: The largest member extracted: the biggest UCR split file is far below 1 GiB, so a larger
#: declared size is a zip bomb or a wrong archive, refused before it fills the disk.
MAX_MEMBER_BYTES = 4 << 30


@dataclass(frozen=True)
class RawFiles:
    """The raw split files of one dataset in the cache, and where they came from."""

    name: str
    train: Path
    test: Path
    source: str  # URL or path they came from
    sha256: str  # of the archive, or of train+test concatenated for a plain directory
    layout: str  # "ucr2018" | "tsc" | "directory"
    members: tuple[str, str]  # train and test as named in the source (archive member, file)

    def relabel(self, message: str) -> str:
        """``message`` with the cache copies' paths replaced by where the files came from
        (a malformed dataset's copies are discarded before the user reads it)."""
        for copy, member in zip((self.train, self.test), self.members, strict=True):
            if self.layout == "directory":
                origin = str(Path(self.source) / member)
            else:
                origin = f"{member} in {self.source}"
            message = message.replace(str(copy), origin)
        return message


class _UnusableArchive(ArchiveError):
    """An archive that no retry can use (corrupt, unsafe): a cached download of it is dropped."""


@dataclass(frozen=True)
class _Plan:
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


# --- public entry point --------------------------------------------------------------------


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
    plan = _plan(name, source)
    with _locked(cache_dir / f".lock-raw-{name}"):
        cached = _reuse_raw(cache_dir, name, plan, sha256)
        if cached is not None:
            return cached
        return _prepare(cache_dir, name, plan, sha256, progress, password)


def discard(raw: RawFiles, cache_dir: Path) -> None:
    """Forget a dataset whose files turned out malformed: its raw folder and, for a
    per-dataset download, the download itself (the shared UCR 2018 archive stays: its other
    datasets are fine)."""
    cache_dir = Path(cache_dir)
    with _locked(cache_dir / f".lock-raw-{raw.name}"):
        folder = cache_dir / "raw" / raw.name
        if folder.is_dir():
            shutil.rmtree(folder)
        _prune_empty(folder.parent, cache_dir)
    if raw.layout == "tsc":
        dest = _download_path(cache_dir, raw.source)
        if dest.exists():
            _remove_download(cache_dir, dest)


# --- resolving the source ------------------------------------------------------------------


def _candidates(name: str) -> list[str]:
    """The 2018 name, then its 2015 names (the 2015 archive's folders use those)."""
    return [name] + [old for old, new in ALIASES_2015.items() if new == name and old != name]


def _demo_zip(name: str) -> Path | None:
    res = resources.files("lstmfcn_bench").joinpath("resources", "demo", f"{name}.zip")
    return Path(str(res)) if res.is_file() else None


def _plan(name: str, source: str | os.PathLike | None) -> _Plan:
    if source is None:
        demo = _demo_zip(name)
        if demo is not None:
            return _Plan("zip", str(demo), origin="demo", path=demo)
        source = TSC_BASE_URL
    text = os.fspath(source)
    parts = urllib.parse.urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if parts.path.lower().endswith(".zip"):
            origin = "ucr2018" if parts.path.endswith(UCR2018_ZIP) else "tsc"
            return _Plan("url", text, origin=origin)
        base = text if text.endswith("/") else text + "/"
        url = urllib.parse.urljoin(base, urllib.parse.quote(name) + ".zip")
        return _Plan("url", url, origin="tsc")
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(f"cannot use {text!r}: only local file:// URLs are supported")
        path = Path(urllib.request.url2pathname(parts.path))
    elif "://" in text:
        raise ConfigError(f"unsupported data source {text!r}: use http(s)://, file:// or a path")
    else:
        path = Path(text).expanduser()
    if path.is_dir():
        return _plan_dir(name, path)
    if path.suffix.lower() == ".zip":
        if not path.is_file():
            raise ConfigError(f"data source {text!r}: no such archive {path}")
        origin = "ucr2018" if path.name == UCR2018_ZIP else "tsc"
        return _Plan("zip", str(path), origin=origin, path=path)
    raise ConfigError(
        f"data source {text!r} is neither an http(s) URL, an existing directory nor a .zip "
        f"archive ({path} does not exist)"
    )


def _plan_dir(name: str, d: Path) -> _Plan:
    """Layout detection in a directory, in a fixed order (see fetch_raw)."""
    looked: list[str] = []
    cands = _candidates(name)
    for c in cands:
        looked.append(f"{c}.zip")
        if (d / f"{c}.zip").is_file():
            return _Plan("zip", str(d / f"{c}.zip"), origin="tsc", path=d / f"{c}.zip")
    looked.append(UCR2018_ZIP)
    if (d / UCR2018_ZIP).is_file():
        return _Plan("zip", str(d / UCR2018_ZIP), origin="ucr2018", path=d / UCR2018_ZIP)
    folders = [d / UCR2018_DIR / c for c in cands] + [d / c for c in cands]
    for folder in folders:
        rel = folder.relative_to(d).as_posix()
        looked.append(f"{rel}/{folder.name}_TRAIN{{.ts,.tsv,.arff,.txt,}}")
        if not folder.is_dir():
            continue
        picked = _pick((p.name for p in folder.iterdir() if p.is_file()), name)
        if not picked:
            continue
        missing = [s for s in _SPLITS if s not in picked]
        if missing:
            raise ConfigError(f"{folder} has no {missing[0]} split file for {name}")
        train, test = folder / picked["TRAIN"], folder / picked["TEST"]
        return _Plan(
            "dir",
            str(folder),
            train=train,
            test=test,
            digest=sha256_file(train, test),
        )
    raise ConfigError(f"{d} holds no data for {name}: looked for {', '.join(looked)}")


def _pick(paths: Iterable[str], name: str) -> dict[str, str]:
    """The best file per split among ``paths`` (zip member names or file names).

    A split file is ``<Name>_TRAIN<ext>`` at the top or inside a ``<Name>/`` folder; the
    most preferred format present for both splits wins, else the best of each.
    """
    cands = [c.lower() for c in _candidates(name)]
    found: dict[str, dict[str, list[str]]] = {s: {} for s in _SPLITS}
    for p in paths:
        parts = [x for x in p.replace("\\", "/").split("/") if x]
        if not parts:
            continue
        base, parent = parts[-1].lower(), (parts[-2].lower() if len(parts) > 1 else None)
        for c in cands:
            if parent is not None and parent != c:
                continue
            for split in _SPLITS:
                prefix = f"{c}_{split.lower()}"
                if base.startswith(prefix) and base[len(prefix) :] in FORMATS:
                    found[split].setdefault(base[len(prefix) :], []).append(p)
    out: dict[str, str] = {}
    common = [ext for ext in FORMATS if ext in found["TRAIN"] and ext in found["TEST"]]
    for split in _SPLITS:
        exts = common or [ext for ext in FORMATS if ext in found[split]]
        if exts:
            # shallowest path first: a top-level file beats a copy nested in a folder
            out[split] = min(found[split][exts[0]], key=lambda m: (m.count("/"), m))
    return out


# --- the raw directory -----------------------------------------------------------------------


def _reuse_raw(cache_dir: Path, name: str, plan: _Plan, sha256: str | None) -> RawFiles | None:
    """The cached raw files when they came from the same source and still verify."""
    d = cache_dir / "raw" / name
    try:
        meta = json.loads((d / MANIFEST).read_text("utf-8"))
        if meta["source"] != plan.source:
            return None
        if sha256 is not None and meta["sha256"] != sha256:
            return None
        if plan.digest is not None and meta["sha256"] != plan.digest:
            return None  # the source directory's files changed
        if meta.get("stamp") != plan.stamp:
            return None  # the local archive was replaced
        for fname, digest in meta["files"].items():
            if sha256_file(d / fname) != digest:
                return None
        return RawFiles(
            name,
            d / meta["train"],
            d / meta["test"],
            meta["source"],
            meta["sha256"],
            meta["layout"],
            tuple(meta["members"]),  # an older manifest without them: extracted again
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _prepare(
    cache_dir: Path, name: str, plan: _Plan, sha256: str | None, progress: bool, password: bytes
) -> RawFiles:
    tmp = Path(tempfile.mkdtemp(dir=cache_dir, prefix=f".tmp-raw-{name}-"))
    try:
        if plan.kind == "url":
            download = _cached_download(cache_dir, plan, sha256, progress)
            digest = download.digest
            try:
                layout, origins = _extract(download.path, plan, name, tmp, password, progress)
            except _UnusableArchive as e:
                _evict(cache_dir, download)
                if download.unsized:
                    raise _UnusableArchive(
                        f"{e}; the server sent no Content-Length to check the download "
                        "against, so the transfer may have been cut short: try again"
                    ) from None
                raise
        elif plan.kind == "zip":
            assert plan.path is not None
            digest = sha256_file(plan.path)
            _check_digest(plan.source, digest, plan.path.stat().st_size, plan, sha256)
            layout, origins = _extract(plan.path, plan, name, tmp, password, progress)
        else:
            assert plan.train is not None and plan.test is not None
            layout = "directory"
            origins = {"TRAIN": plan.train.name, "TEST": plan.test.name}
            copies = [tmp / _cache_name(name, split, origins[split]) for split in _SPLITS]
            for src, dest in zip((plan.train, plan.test), copies, strict=True):
                shutil.copyfile(src, dest)
            digest = sha256_file(*copies)
            if sha256 is not None and digest != sha256:
                raise ChecksumError(
                    f"{plan.source}: sha256 of train+test is {digest}, expected {sha256}"
                )
        members = {split: _cache_name(name, split, origins[split]) for split in _SPLITS}
        meta = {
            "name": name,
            "source": plan.source,
            "sha256": digest,
            "layout": layout,
            "stamp": plan.stamp,
            "train": members["TRAIN"],
            "test": members["TEST"],
            "members": [origins["TRAIN"], origins["TEST"]],
            "files": {m: sha256_file(tmp / m) for m in (members["TRAIN"], members["TEST"])},
        }
        (tmp / MANIFEST).write_text(json.dumps(meta, indent=2) + "\n", "utf-8")
        final = cache_dir / "raw" / name
        won = _install_dir(tmp, final, cache_dir, lambda: _reuse_raw(cache_dir, name, plan, sha256))
        if won is not None:
            return won
        return RawFiles(
            name,
            final / meta["train"],
            final / meta["test"],
            plan.source,
            digest,
            layout,
            (origins["TRAIN"], origins["TEST"]),
        )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _cache_name(name: str, split: str, origin: str) -> str:
    """The cache copy's name of a split file named ``origin`` (a path or member name) in its
    source: ``<Name>_<SPLIT><ext>``, whatever folder or 2015 name it had there."""
    return f"{name}_{split}{_ext_of(origin.rsplit('/', 1)[-1], name)}"


def _ext_of(filename: str, name: str) -> str:
    """The format suffix of a split file (``.ts``, ..., or '' for the 2015 files)."""
    low = filename.lower()
    for c in _candidates(name):
        for split in _SPLITS:
            prefix = f"{c}_{split}".lower()
            if low.startswith(prefix):
                return low[len(prefix) :]
    return Path(low).suffix  # pragma: no cover - _pick only selects names of that form


def _install_dir(tmp: Path, final: Path, cache_dir: Path, theirs) -> RawFiles | None:
    """Rename ``tmp`` to ``final`` atomically; None when installed.

    When ``final`` exists, another process may have won the race: ``theirs()`` returns its
    entry when that is usable, and it is returned; a stale entry is moved aside and replaced.
    """
    for _ in range(5):
        try:
            _mkdir_then(final.parent, lambda: os.rename(tmp, final))
            return None
        except OSError as e:
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
        existing = theirs()
        if existing is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            return existing
        trash = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".tmp-stale-"))
        try:
            os.rename(final, trash / "old")
        except FileNotFoundError:
            pass
        finally:
            shutil.rmtree(trash, ignore_errors=True)
    raise LstmfcnError(f"could not install {final}: it keeps being recreated")  # pragma: no cover


# --- archives --------------------------------------------------------------------------------


def _unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    norm = info.filename.replace("\\", "/")
    if norm.startswith("/"):
        return "absolute path"
    if re.match(r"[A-Za-z]:", norm):
        return "drive letter"
    if ".." in norm.split("/"):
        return "'..' component"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link"
    return None


def _extract(
    archive: Path, plan: _Plan, name: str, dest: Path, password: bytes, progress: bool
) -> tuple[str, dict[str, str]]:
    """Check every member name, then extract only this dataset's two split files into dest:
    (layout, member name per split). Messages name ``plan.source``, not the cached copy."""
    label = plan.source
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
        raise _UnusableArchive(
            f"{label} is not a readable zip archive (corrupt or truncated?): {e}"
        ) from None
    with zf:
        infos = zf.infolist()
        for info in infos:
            why = _unsafe_reason(info)
            if why is not None:
                raise _UnusableArchive(
                    f"{label}: refusing unsafe member {info.filename!r} ({why}); "
                    "nothing was extracted"
                )
        by_name = {i.filename: i for i in infos if not i.is_dir()}
        picked = _pick(by_name, name)
        if len(picked) < 2:
            looked = f"{name}_TRAIN/_TEST with {', '.join(e or '(no extension)' for e in FORMATS)}"
            where = f"at the top, in {name}/ or in {UCR2018_DIR}/{name}/"
            err = _UnusableArchive if plan.origin != "ucr2018" else ArchiveError
            got = ", ".join(sorted(by_name)[:5]) + (" ..." if len(by_name) > 5 else "")
            raise err(
                f"{label} has no complete {name} dataset: looked for {looked} {where}; "
                f"it holds {len(by_name)} files ({got or 'none'})"
            )
        chosen = {split: by_name[picked[split]] for split in _SPLITS}
        for info in chosen.values():
            if info.file_size > MAX_MEMBER_BYTES:
                raise _UnusableArchive(
                    f"{label}: refusing member {info.filename!r}: it declares "
                    f"{info.file_size} bytes, more than the {MAX_MEMBER_BYTES} a split file "
                    "may have (a zip bomb?); nothing was extracted"
                )
        for split, info in chosen.items():
            target = dest / _cache_name(name, split, info.filename)
            _extract_member(zf, info, label, target, password, progress)
        layout = "ucr2018" if picked["TRAIN"].split("/")[0] == UCR2018_DIR else "tsc"
        return layout, {split: info.filename for split, info in chosen.items()}


def _extract_member(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    label: str,
    target: Path,
    password: bytes,
    progress: bool,
) -> None:
    encrypted = bool(info.flag_bits & 0x1)
    bar = Progress(
        f"extracting {info.filename}",
        info.file_size,
        progress and info.file_size >= _PROGRESS_MIN_EXTRACT,
    )
    try:
        with zf.open(info, pwd=password or None) as src, open(target, "wb") as out:
            done = 0
            while chunk := src.read(_CHUNK):
                done += len(chunk)
                # zipfile stops at the declared size today; never trust that with the disk
                if done > info.file_size:
                    raise _UnusableArchive(
                        f"{label}: member {info.filename!r} holds more than the "
                        f"{info.file_size} bytes it declares (a zip bomb?); extraction stopped"
                    )
                out.write(chunk)
                bar.update(done)
    except RuntimeError as e:  # zipfile: 'Bad password for file ...' / 'password required'
        if "password" not in str(e).lower():
            raise
        raise ArchiveError(
            f"wrong password for {label} (member {info.filename}): pass the archive's "
            "password with `lstmfcn fetch --password ...`; the UCR 2018 archive's is in its "
            "briefing document"
        ) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as e:
        # A bad CRC on an encrypted member may also be a wrong password (1 in 256 pass the
        # check byte): then keep the download.
        hint = " or the password is wrong" if encrypted else ""
        err = ArchiveError if encrypted else _UnusableArchive
        raise err(
            f"{label}: cannot extract {info.filename}: {e} (the archive is corrupt{hint})"
        ) from None
    finally:
        bar.close()


# --- downloads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Download:
    """A verified download in the cache, and the lock that guards it."""

    path: Path
    digest: str
    lock: Path
    #: Fetched just now with neither a Content-Length nor a checksum to vouch for its size.
    unsized: bool = False


def _download_path(cache_dir: Path, url: str) -> Path:
    """A per-URL folder keeps the file's own name (so ``sha256sum -c`` works) without clashes."""
    parts = urllib.parse.urlsplit(url)
    filename = urllib.parse.unquote(parts.path.rsplit("/", 1)[-1]) or "download"
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", filename).lstrip(".") or "download"
    host = re.sub(r"[^A-Za-z0-9.-]", "_", parts.netloc) or "host"
    key = hashlib.sha256(url.encode()).hexdigest()[:10]
    return cache_dir / "downloads" / f"{host}-{key}" / filename


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _cached_download(cache_dir: Path, plan: _Plan, sha256: str | None, progress: bool) -> _Download:
    """The verified cached download of plan.source (fetched at most once across processes)."""
    dest = _download_path(cache_dir, plan.source)
    lock = cache_dir / f".lock-{dest.parent.name}-{dest.name}"
    with _locked(lock):
        recorded = _read_sidecar(dest)
        if dest.exists():
            actual = sha256_file(dest)
            if recorded != actual:  # corrupted or half-written entry: drop it, fetch again
                if progress:
                    print(f"cached {dest} is corrupt; downloading again", file=sys.stderr)
                _remove_download(cache_dir, dest)
            elif sha256 is None or actual == sha256:
                return _Download(dest, actual, lock)
        digest, unsized = _download(plan, dest, cache_dir, sha256, progress)
        return _Download(dest, digest, lock, unsized)


def _read_sidecar(dest: Path) -> str | None:
    try:
        return _sidecar(dest).read_text("ascii").split()[0].lower()
    except (OSError, IndexError, UnicodeDecodeError):
        return None


def _remove_download(cache_dir: Path, dest: Path) -> None:
    for p in (_sidecar(dest), dest):
        p.unlink(missing_ok=True)
    _prune_empty(dest.parent, cache_dir)


def _evict(cache_dir: Path, download: _Download) -> None:
    """Drop a cached download found unusable, unless another process replaced it meanwhile."""
    with _locked(download.lock):
        if _read_sidecar(download.path) == download.digest:
            _remove_download(cache_dir, download.path)


def _download(
    plan: _Plan, dest: Path, cache_dir: Path, sha256: str | None, progress: bool
) -> tuple[str, bool]:
    """Stream to a temp file in the cache, verify, and only then rename into place:
    (sha256, whether nothing vouched for the size: no Content-Length and no checksum)."""
    url = plan.source
    fd, tmp_name = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-download-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            got, total, digest = _stream(url, out, progress)
        if total is not None and got != total:
            raise DownloadError(
                f"truncated download of {url}: got {got} of {total} bytes; try again"
            )
        vouched = _check_digest(url, digest, got, plan, sha256)
        side_fd, side_tmp = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-sha256-")
        try:
            with os.fdopen(side_fd, "w", encoding="ascii") as f:
                f.write(f"{digest}  {dest.name}\n")
            # the file first: a file without (or with a stale) sidecar is re-fetched, never trusted
            _mkdir_then(dest.parent, lambda: os.replace(tmp, dest))
            os.replace(side_tmp, _sidecar(dest))
        except BaseException:
            Path(side_tmp).unlink(missing_ok=True)
            raise
        return digest, total is None and not vouched
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _stream(url: str, out: BinaryIO, progress: bool) -> tuple[int, int | None, str]:
    """Copy the body of ``url`` to ``out``: (bytes got, Content-Length or None, sha256)."""
    request = urllib.request.Request(url, headers={"User-Agent": f"lstmfcn-bench/{__version__}"})
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as e:
        e.close()
        raise DownloadError(f"cannot download {url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise DownloadError(
            f"cannot download {url}: {reason} (check the URL and the network, or point the "
            "data source at a local directory or file:// URL holding the files)"
        ) from None
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.strip().isdigit() else None
        h = hashlib.sha256()
        got = 0
        label = url.rsplit("/", 1)[-1] or url
        bar = Progress(f"downloading {label}", total, progress)
        try:
            # read1: what has arrived, so a stalled or broken transfer reports every byte got
            while chunk := response.read1(_CHUNK):
                out.write(chunk)
                h.update(chunk)
                got += len(chunk)
                bar.update(got)
        except http.client.IncompleteRead as e:
            got += len(e.partial)
            expected = total if total is not None else got + (e.expected or 0)
            raise DownloadError(
                f"truncated download of {url}: got {got} of {expected} bytes; try again"
            ) from None
        except (OSError, http.client.HTTPException) as e:
            raise DownloadError(
                f"download of {url} failed after {got} of {total or '?'} bytes: {e}"
            ) from None
        finally:
            bar.close()
    return got, total, h.hexdigest()


@cache
def known_checksums() -> dict[str, dict]:
    """resources/checksums.json: file name → {"sha256", "size", "origin"}."""
    text = resources.files("lstmfcn_bench").joinpath("resources", "checksums.json").read_text()
    return json.loads(text)


def _check_digest(label: str, digest: str, size: int, plan: _Plan, sha256: str | None) -> bool:
    """Compare with the pinned sha256, else with the known-checksums entry of that origin;
    True when one of them vouched for the bytes."""
    if sha256 is not None:
        if digest != sha256:
            raise ChecksumError(f"{label}: sha256 is {digest}, expected {sha256} (as passed)")
        return True
    filename = urllib.parse.unquote(urllib.parse.urlsplit(label).path).rsplit("/", 1)[-1]
    if plan.path is not None:
        filename = plan.path.name
    entry = known_checksums().get(filename)
    if not entry or entry.get("origin", plan.origin) != plan.origin:
        return False
    if "size" in entry and size != entry["size"]:
        raise ChecksumError(
            f"{label}: size is {size} bytes, expected {entry['size']} "
            f"(sha256 {digest}, expected {entry['sha256']}; resources/checksums.json)"
        )
    if digest != entry["sha256"]:
        raise ChecksumError(
            f"{label}: sha256 is {digest}, expected {entry['sha256']} (resources/checksums.json)"
        )
    return True


# --- small helpers ---------------------------------------------------------------------------


def _mkdir_then(folder: Path, action) -> None:
    """mkdir -p then act; retried because a concurrent _prune_empty may remove the folder."""
    for attempt in range(5):
        folder.mkdir(parents=True, exist_ok=True)
        try:
            action()
            return
        except FileNotFoundError:
            if attempt == 4 or folder.exists():
                raise


def _prune_empty(folder: Path, stop: Path) -> None:
    """Remove empty folders from ``folder`` up to (not including) ``stop``."""
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
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
