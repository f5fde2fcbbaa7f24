"""The cache's raw folder of one dataset: its two split files and the manifest that says where
they came from, reused while they still verify and installed atomically.

``raw/<Name>/<Name>_TRAIN.<ext>``, ``_TEST.<ext>`` and ``manifest.json`` under the cache folder;
a folder is built in a temp folder in the cache and renamed into place, so it is complete or
absent.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..atomic import sha256_file
from ..errors import ChecksumError, LstmfcnError
from .checksums import check_digest
from .download import cached_download, evict
from .extract import UnusableArchive, extract
from .fetch_plan import FetchPlan
from .locks import mkdir_then
from .split_files import SPLITS, cache_name

MANIFEST = "manifest.json"


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


def reuse_raw(cache_dir: Path, name: str, plan: FetchPlan, sha256: str | None) -> RawFiles | None:
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


def prepare_raw(
    cache_dir: Path, name: str, plan: FetchPlan, sha256: str | None, progress: bool, password: bytes
) -> RawFiles:
    """Fetch, verify and extract (or copy) the split files as ``plan`` says, and install the
    dataset's raw folder; a failure leaves no temp folder behind."""
    tmp = Path(tempfile.mkdtemp(dir=cache_dir, prefix=f".tmp-raw-{name}-"))
    try:
        if plan.kind == "url":
            download = cached_download(cache_dir, plan, sha256, progress)
            digest = download.digest
            try:
                layout, origins = extract(download.path, plan, name, tmp, password, progress)
            except UnusableArchive as e:
                evict(cache_dir, download)
                if download.unsized:
                    raise UnusableArchive(
                        f"{e}; the server sent no Content-Length to check the download "
                        "against, so the transfer may have been cut short: try again"
                    ) from None
                raise
        elif plan.kind == "zip":
            assert plan.path is not None
            digest = sha256_file(plan.path)
            check_digest(plan.source, digest, plan.path.stat().st_size, plan, sha256)
            layout, origins = extract(plan.path, plan, name, tmp, password, progress)
        else:
            assert plan.train is not None and plan.test is not None
            layout = "directory"
            origins = {"TRAIN": plan.train.name, "TEST": plan.test.name}
            copies = [tmp / cache_name(name, split, origins[split]) for split in SPLITS]
            for src, dest in zip((plan.train, plan.test), copies, strict=True):
                shutil.copyfile(src, dest)
            digest = sha256_file(*copies)
            if sha256 is not None and digest != sha256:
                raise ChecksumError(
                    f"{plan.source}: sha256 of train+test is {digest}, expected {sha256}"
                )
        members = {split: cache_name(name, split, origins[split]) for split in SPLITS}
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
        won = _install_dir(tmp, final, cache_dir, lambda: reuse_raw(cache_dir, name, plan, sha256))
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


def _install_dir(tmp: Path, final: Path, cache_dir: Path, theirs) -> RawFiles | None:
    """Rename ``tmp`` to ``final`` atomically; None when installed.

    When ``final`` exists, another process may have won the race: ``theirs()`` returns its
    entry when that is usable, and it is returned; a stale entry is moved aside and replaced.
    """
    for _ in range(5):
        try:
            mkdir_then(final.parent, lambda: os.rename(tmp, final))
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
