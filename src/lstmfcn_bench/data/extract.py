"""Extracting one dataset's two split files from a zip archive, safely.

Every member name is checked before anything is extracted (no absolute paths, drive letters,
``..`` or symbolic links), and a member's declared and actual size are bounded, so a hostile or
wrong archive cannot write outside the target folder or fill the disk.
"""

from __future__ import annotations

import re
import stat
import zipfile
import zlib
from pathlib import Path

from ..errors import ArchiveError
from ..progress import Progress
from .fetch_plan import UCR2018_DIR, FetchPlan
from .split_files import FORMATS, SPLITS, cache_name, pick

_CHUNK = 1 << 20
_PROGRESS_MIN_EXTRACT = 8 << 20  # only big members: decrypting runs at about 1 MB/s
#: The largest member extracted: the biggest UCR split file is far below 1 GiB, so a larger
#: declared size is a zip bomb or a wrong archive, refused before it fills the disk.
MAX_MEMBER_BYTES = 4 << 30


class UnusableArchive(ArchiveError):
    """An archive that no retry can use (corrupt, unsafe): a cached download of it is dropped."""


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


def extract(
    archive: Path, plan: FetchPlan, name: str, dest: Path, password: bytes, progress: bool
) -> tuple[str, dict[str, str]]:
    """Check every member name, then extract only this dataset's two split files into dest:
    (layout, member name per split). Messages name ``plan.source``, not the cached copy."""
    label = plan.source
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
        raise UnusableArchive(
            f"{label} is not a readable zip archive (corrupt or truncated?): {e}"
        ) from None
    with zf:
        infos = zf.infolist()
        for info in infos:
            why = _unsafe_reason(info)
            if why is not None:
                raise UnusableArchive(
                    f"{label}: refusing unsafe member {info.filename!r} ({why}); "
                    "nothing was extracted"
                )
        by_name = {i.filename: i for i in infos if not i.is_dir()}
        picked = pick(by_name, name)
        if len(picked) < 2:
            looked = f"{name}_TRAIN/_TEST with {', '.join(e or '(no extension)' for e in FORMATS)}"
            where = f"at the top, in {name}/ or in {UCR2018_DIR}/{name}/"
            err = UnusableArchive if plan.origin != "ucr2018" else ArchiveError
            got = ", ".join(sorted(by_name)[:5]) + (" ..." if len(by_name) > 5 else "")
            raise err(
                f"{label} has no complete {name} dataset: looked for {looked} {where}; "
                f"it holds {len(by_name)} files ({got or 'none'})"
            )
        chosen = {split: by_name[picked[split]] for split in SPLITS}
        for info in chosen.values():
            if info.file_size > MAX_MEMBER_BYTES:
                raise UnusableArchive(
                    f"{label}: refusing member {info.filename!r}: it declares "
                    f"{info.file_size} bytes, more than the {MAX_MEMBER_BYTES} a split file "
                    "may have (a zip bomb?); nothing was extracted"
                )
        for split, info in chosen.items():
            target = dest / cache_name(name, split, info.filename)
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
                    raise UnusableArchive(
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
        err = ArchiveError if encrypted else UnusableArchive
        raise err(
            f"{label}: cannot extract {info.filename}: {e} (the archive is corrupt{hint})"
        ) from None
    finally:
        bar.close()
