"""The known checksums of source archives, and checking a file's digest against them.

``resources/checksums.json`` maps a file name to ``{"sha256", "size", "origin"}``; an entry
applies only to files of that origin (``demo``, ``ucr2018``, ``tsc``), because a mirror's
``GunPoint.zip`` is not the same file as the embedded demo ``GunPoint.zip``.
"""

from __future__ import annotations

import json
import urllib.parse
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from ..errors import ChecksumError

if TYPE_CHECKING:
    from .fetch_plan import FetchPlan


@cache
def known_checksums() -> dict[str, dict]:
    """resources/checksums.json: file name → {"sha256", "size", "origin"}."""
    text = resources.files("lstmfcn_bench").joinpath("resources", "checksums.json").read_text()
    return json.loads(text)


def check_digest(label: str, digest: str, size: int, plan: FetchPlan, sha256: str | None) -> bool:
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
