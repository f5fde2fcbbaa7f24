"""Downloading a source archive into the cache once, verified, and keeping it verified.

A download lives at ``downloads/<host>-<key>/<file>`` under the cache folder, next to its
sha256 in ``<file>.sha256`` (``sha256sum`` format). It is streamed to a temp file in the cache,
checked, and only then renamed into place; a file whose sidecar is missing or stale is fetched
again, never trusted.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .. import __version__
from ..atomic import sha256_file
from ..errors import DownloadError
from ..progress import Progress
from .checksums import check_digest
from .fetch_plan import FetchPlan
from .locks import locked, mkdir_then, prune_empty

_CHUNK = 1 << 20
_TIMEOUT_S = 60


@dataclass(frozen=True)
class Download:
    """A verified download in the cache, and the lock that guards it."""

    path: Path
    digest: str
    lock: Path
    #: Fetched just now with neither a Content-Length nor a checksum to vouch for its size.
    unsized: bool = False


def download_path(cache_dir: Path, url: str) -> Path:
    """A per-URL folder keeps the file's own name (so ``sha256sum -c`` works) without clashes."""
    parts = urllib.parse.urlsplit(url)
    filename = urllib.parse.unquote(parts.path.rsplit("/", 1)[-1]) or "download"
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", filename).lstrip(".") or "download"
    host = re.sub(r"[^A-Za-z0-9.-]", "_", parts.netloc) or "host"
    key = hashlib.sha256(url.encode()).hexdigest()[:10]
    return cache_dir / "downloads" / f"{host}-{key}" / filename


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def cached_download(
    cache_dir: Path, plan: FetchPlan, sha256: str | None, progress: bool
) -> Download:
    """The verified cached download of plan.source (fetched at most once across processes)."""
    dest = download_path(cache_dir, plan.source)
    lock = cache_dir / f".lock-{dest.parent.name}-{dest.name}"
    with locked(lock):
        recorded = _read_sidecar(dest)
        if dest.exists():
            actual = sha256_file(dest)
            if recorded != actual:  # corrupted or half-written entry: drop it, fetch again
                if progress:
                    print(f"cached {dest} is corrupt; downloading again", file=sys.stderr)
                remove_download(cache_dir, dest)
            elif sha256 is None or actual == sha256:
                return Download(dest, actual, lock)
        digest, unsized = _download(plan, dest, cache_dir, sha256, progress)
        return Download(dest, digest, lock, unsized)


def _read_sidecar(dest: Path) -> str | None:
    try:
        return _sidecar(dest).read_text("ascii").split()[0].lower()
    except (OSError, IndexError, UnicodeDecodeError):
        return None


def remove_download(cache_dir: Path, dest: Path) -> None:
    """Delete a cached download and its sidecar, and the folders they leave empty."""
    for p in (_sidecar(dest), dest):
        p.unlink(missing_ok=True)
    prune_empty(dest.parent, cache_dir)


def evict(cache_dir: Path, download: Download) -> None:
    """Drop a cached download found unusable, unless another process replaced it meanwhile."""
    with locked(download.lock):
        if _read_sidecar(download.path) == download.digest:
            remove_download(cache_dir, download.path)


def _download(
    plan: FetchPlan, dest: Path, cache_dir: Path, sha256: str | None, progress: bool
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
        vouched = check_digest(url, digest, got, plan, sha256)
        side_fd, side_tmp = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-sha256-")
        try:
            with os.fdopen(side_fd, "w", encoding="ascii") as f:
                f.write(f"{digest}  {dest.name}\n")
            # the file first: a file without (or with a stale) sidecar is re-fetched, never trusted
            mkdir_then(dest.parent, lambda: os.replace(tmp, dest))
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
