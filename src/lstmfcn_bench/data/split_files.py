"""Which files are a dataset's train and test split files, and what their cache copies are named.

A split file is ``<Name>_TRAIN<ext>`` / ``<Name>_TEST<ext>`` (the 2018 name or one of its 2015
names), at the top of a folder or archive or inside a ``<Name>/`` folder, in one of ``FORMATS``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .registry import ALIASES_2015

#: Split-file formats, most preferred first: .ts carries its own metadata; .txt and no
#: extension are the 2015 archive's format.
FORMATS = (".ts", ".tsv", ".arff", ".txt", "")
SPLITS = ("TRAIN", "TEST")


def candidates(name: str) -> list[str]:
    """The 2018 name, then its 2015 names (the 2015 archive's folders use those)."""
    return [name] + [old for old, new in ALIASES_2015.items() if new == name and old != name]


def pick(paths: Iterable[str], name: str) -> dict[str, str]:
    """The best file per split among ``paths`` (zip member names or file names).

    A split file is ``<Name>_TRAIN<ext>`` at the top or inside a ``<Name>/`` folder; the
    most preferred format present for both splits wins, else the best of each.
    """
    cands = [c.lower() for c in candidates(name)]
    found: dict[str, dict[str, list[str]]] = {s: {} for s in SPLITS}
    for p in paths:
        parts = [x for x in p.replace("\\", "/").split("/") if x]
        if not parts:
            continue
        base, parent = parts[-1].lower(), (parts[-2].lower() if len(parts) > 1 else None)
        for c in cands:
            if parent is not None and parent != c:
                continue
            for split in SPLITS:
                prefix = f"{c}_{split.lower()}"
                if base.startswith(prefix) and base[len(prefix) :] in FORMATS:
                    found[split].setdefault(base[len(prefix) :], []).append(p)
    out: dict[str, str] = {}
    common = [ext for ext in FORMATS if ext in found["TRAIN"] and ext in found["TEST"]]
    for split in SPLITS:
        exts = common or [ext for ext in FORMATS if ext in found[split]]
        if exts:
            # shallowest path first: a top-level file beats a copy nested in a folder
            out[split] = min(found[split][exts[0]], key=lambda m: (m.count("/"), m))
    return out


def cache_name(name: str, split: str, origin: str) -> str:
    """The cache copy's name of a split file named ``origin`` (a path or member name) in its
    source: ``<Name>_<SPLIT><ext>``, whatever folder or 2015 name it had there."""
    return f"{name}_{split}{_ext_of(origin.rsplit('/', 1)[-1], name)}"


def _ext_of(filename: str, name: str) -> str:
    """The format suffix of a split file (``.ts``, ..., or '' for the 2015 files)."""
    low = filename.lower()
    for c in candidates(name):
        for split in SPLITS:
            prefix = f"{c}_{split}".lower()
            if low.startswith(prefix):
                return low[len(prefix) :]
    return Path(low).suffix  # pragma: no cover - pick only selects names of that form
