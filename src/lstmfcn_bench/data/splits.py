"""Which way round a dataset's train and test splits are: the paper's (the UCR 2015 archive's)
or the 2018 archive's, which differ for 14 of the paper's 85 datasets.

The 2018 archive exchanged the training and test splits of 14 datasets of the 2015 archive
(Dau et al., "The UCR Time Series Archive", 2018: the larger split became the training split,
as in the 2017 bake-off). The paper trained on the 2015 archive, and its table shows it: on each
of these datasets both published accuracies are a whole number of the 2018 archive's *training*
series and no whole number of its test series (DistalPhalanxTW: 0.7875 = 315/400, against 139
test series), while on the other 71 datasets they are whole numbers of the test series;
tests/test_splits.py recomputes this from the published table. The paper's protocol therefore
trains these 14 on the 2018 archive's test split and tests on its training split.

A prepared dataset (data.npz) always holds the archive's files as they are; :func:`oriented`
exchanges them for a run of the paper's split, once, where a run is trained and where it is
evaluated (from the split its _train.json records).
"""

from __future__ import annotations

import dataclasses

from ..errors import ConfigError

#: The paper's split: the 2015 archive's train and test (the 2018 files, exchanged for the 14).
PAPER = "2015"
#: The 2018 archive's files as they are (also the split of every run recorded before a run
#: said which: those runs read data.npz unchanged).
ARCHIVE = "2018"
SPLITS = (PAPER, ARCHIVE)

#: The 2018 names of the datasets whose train and test the 2018 archive exchanged.
EXCHANGED_SINCE_2015: frozenset[str] = frozenset(
    {
        "DistalPhalanxOutlineAgeGroup",
        "DistalPhalanxOutlineCorrect",
        "DistalPhalanxTW",
        "Earthquakes",
        "FordA",
        "FordB",
        "HandOutlines",
        "MiddlePhalanxOutlineAgeGroup",
        "MiddlePhalanxOutlineCorrect",
        "MiddlePhalanxTW",
        "ProximalPhalanxTW",
        "Strawberry",
        "Worms",
        "WormsTwoClass",
    }
)


def check(split: str) -> str:
    if split not in SPLITS:
        raise ConfigError(
            f"unknown split {split!r}; choose {PAPER} (the paper's: the 2015 archive's train and "
            f"test) or {ARCHIVE} (the 2018 archive's files as they are)"
        )
    return split


def of_run(config: dict) -> str:
    """The split a run's recorded config trained on (a run recorded before the config said
    which trained on the archive's files)."""
    return config.get("split", ARCHIVE)


def exchanges(name: str, split: str) -> bool:
    """Whether a run of ``split`` trains on ``name``'s 2018 test split (and tests on its
    2018 training split)."""
    return check(split) == PAPER and name in EXCHANGED_SINCE_2015


def sizes(n_train: int, n_test: int, name: str, split: str) -> tuple[int, int]:
    """``(series trained on, series tested on)`` for a run of ``split``."""
    return (n_test, n_train) if exchanges(name, split) else (n_train, n_test)


def oriented(dataset, split: str):
    """``dataset`` as a run of ``split`` sees it: its splits exchanged when the paper's split
    differs from the archive's (meta says so under ``exchanged``), else ``dataset`` itself."""
    if not exchanges(dataset.name, split):
        return dataset
    if dataset.meta.get("normalise") == "dataset":
        raise ConfigError(
            f"{dataset.name} was prepared with normalise=dataset, whose statistics come from "
            f"the archive's training split, which the paper's split ({PAPER}) tests on: prepare "
            f"it with normalise=series (the paper's), or train with --split {ARCHIVE}"
        )
    meta = {
        **dataset.meta,
        "n_train": dataset.meta.get("n_test"),
        "n_test": dataset.meta.get("n_train"),
        "exchanged": True,
    }
    return dataclasses.replace(
        dataset,
        X_train=dataset.X_test,
        y_train=dataset.y_test,
        X_test=dataset.X_train,
        y_test=dataset.y_train,
        lengths_train=dataset.lengths_test,
        lengths_test=dataset.lengths_train,
        meta=meta,
    )


def check_oriented(dataset, split: str) -> None:
    """Refuse to train a run that records ``split`` on ``dataset`` as another split sees it:
    its evaluation would orient the data by the record and test on what it trained on."""
    if bool(dataset.meta.get("exchanged")) != exchanges(dataset.name, split):
        given = PAPER if dataset.meta.get("exchanged") else ARCHIVE
        raise ConfigError(
            f"{dataset.name}: the run records split {split} but is given the data as split "
            f"{given} sees it (train and test exchanged): orient it with "
            f"splits.oriented(dataset, {split!r}), as lstmfcn train does"
        )


def data_identity(dataset) -> str:
    """What a run trained on, for its resume state: the data's sha256, marked when exchanged
    (a run of the other split must not resume from it)."""
    sha = dataset.meta.get("data_sha256", "")
    return f"{sha}+exchanged" if dataset.meta.get("exchanged") else sha


def describe(dataset) -> str:
    """A phrase for the training line: which split a run of ``dataset`` trains on."""
    if dataset.meta.get("exchanged"):
        return " (the paper's split: the 2018 archive's test split, as in the 2015 archive)"
    return ""
