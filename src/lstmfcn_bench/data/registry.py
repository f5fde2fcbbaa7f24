"""The UCR 2018 univariate archive: the 128 datasets, the paper's 2015 names, and presets.

Facts come from the official UCR 2018 summary (resources/ucr_2018_summary.csv). Whether a
dataset has missing values is not in that summary: it is detected when the files are parsed
and recorded in the prepared dataset's metadata.
"""

from __future__ import annotations

import csv
import difflib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ..errors import UnknownDatasetError

#: The paper's (2015 archive) names that differ from the 2018 names, as written in the
#: published accuracy table. Explicit, so a reader can audit every mapping.
ALIASES_2015: dict[str, str] = {
    "50words": "FiftyWords",
    "car": "Car",
    "CinC_ECG_torso": "CinCECGTorso",
    "Cricket_X": "CricketX",
    "Cricket_Y": "CricketY",
    "Cricket_Z": "CricketZ",
    "Gun_Point": "GunPoint",
    "Lighting2": "Lightning2",
    "Lighting7": "Lightning7",
    "MALLAT": "Mallat",
    "NonInvasiveFatalECG_Thorax1": "NonInvasiveFetalECGThorax1",
    "NonInvasiveFatalECG_Thorax2": "NonInvasiveFetalECGThorax2",
    "plane": "Plane",
    "SonyAIBORobot Surface": "SonyAIBORobotSurface1",
    "SonyAIBORobotSurface": "SonyAIBORobotSurface1",
    "SonyAIBORobot SurfaceII": "SonyAIBORobotSurface2",
    "SonyAIBORobotSurfaceII": "SonyAIBORobotSurface2",
    "StarlightCurves": "StarLightCurves",
    "synthetic_control": "SyntheticControl",
    "Two_Patterns": "TwoPatterns",
    "uWaveGestureLibrary_X": "UWaveGestureLibraryX",
    "uWaveGestureLibrary_Y": "UWaveGestureLibraryY",
    "uWaveGestureLibrary_Z": "UWaveGestureLibraryZ",
    "wafer": "Wafer",
    "WordsSynonyms": "WordSynonyms",
    "yoga": "Yoga",
}

#: Small datasets carried inside the package (resources/demo/*.zip), so the demo runs offline.
DEMO_DATASETS: tuple[str, ...] = ("GunPoint", "ItalyPowerDemand", "ArrowHead")


@dataclass(frozen=True)
class DatasetInfo:
    """One row of the UCR 2018 summary."""

    name: str
    type: str
    n_train: int
    n_test: int
    n_classes: int
    length: int | None  # None: variable length ("Vary" in the summary)

    @property
    def variable_length(self) -> bool:
        return self.length is None

    @property
    def length_label(self) -> str:
        return "variable" if self.length is None else str(self.length)


def _resource_text(name: str) -> str:
    return resources.files("lstmfcn_bench").joinpath("resources", name).read_text("utf-8")


@cache
def registry() -> dict[str, DatasetInfo]:
    """All 128 UCR 2018 univariate datasets, keyed by their 2018 name."""
    rows = csv.DictReader(_resource_text("ucr_2018_summary.csv").splitlines())
    out = {}
    for r in rows:
        length = None if r["Length"].strip().lower() == "vary" else int(r["Length"])
        out[r["Name"]] = DatasetInfo(
            name=r["Name"],
            type=r["Type"],
            n_train=int(r["Train"]),
            n_test=int(r["Test"]),
            n_classes=int(r["Class"]),
            length=length,
        )
    return out


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@cache
def _lookup() -> dict[str, str]:
    """Exact names, 2015 aliases, and case/punctuation-insensitive forms → 2018 name."""
    table = {_squash(n): n for n in registry()}
    table.update({_squash(old): new for old, new in ALIASES_2015.items()})
    table.update({n: n for n in registry()})
    table.update(ALIASES_2015)
    return table


def canonical_name(name: str) -> str:
    """The 2018 name of a dataset given its 2018 or 2015 name (case-insensitive).

    Raises UnknownDatasetError with the closest known names as suggestions.
    """
    table = _lookup()
    found = table.get(name) or table.get(_squash(name))
    if found is not None:
        return found
    close = difflib.get_close_matches(name, list(registry()) + list(ALIASES_2015), n=3, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UnknownDatasetError(
        f"unknown UCR dataset {name!r}.{hint} (`lstmfcn datasets --preset ucr128` lists all)"
    )


@cache
def published_names_2015() -> tuple[str, ...]:
    """The 85 dataset names of the published table, as the paper wrote them."""
    rows = csv.DictReader(_resource_text("lstm_fcn_published.csv").splitlines())
    return tuple(r["Dataset"] for r in rows)


PRESETS = ("demo", "ucr85", "ucr128")


def preset(name: str) -> list[str]:
    """2018 names of a preset: `demo` (offline, small), `ucr85` (the paper's), `ucr128`."""
    if name == "demo":
        return list(DEMO_DATASETS)
    if name == "ucr85":
        return [canonical_name(n) for n in published_names_2015()]
    if name == "ucr128":
        return list(registry())
    raise UnknownDatasetError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")


def name_2015(name: str) -> str | None:
    """The paper's name for a 2018 name, or None when the dataset is not in the paper."""
    canon = canonical_name(name)
    for old in published_names_2015():
        if canonical_name(old) == canon:
            return old
    return None
