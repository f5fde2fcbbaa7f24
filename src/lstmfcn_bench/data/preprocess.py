"""From two parsed splits to model-ready arrays: labels, missing values, normalisation, padding.

Order matters and is fixed: fill missing values → normalise each series at its original length
→ post-pad with zeros. Normalising before padding keeps the padding exactly 0 and keeps it out
of the statistics; filling first keeps NaN out of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataFormatError
from .formats import RawSplit

NORMALISE = ("series", "dataset", "none")
MISSING = ("interpolate", "zero", "error")
#: What a classifier needs in its training split; ``prepare`` asks for it (unit tests of the
#: arithmetic here may pass a single class).
MIN_CLASSES = 2


@dataclass
class Prepared:
    """Both splits, encoded and padded to one length T (the longest series of either split)."""

    X_train: np.ndarray  # float32 (n_train, T), zero post-padded
    y_train: np.ndarray  # int64 in 0..K-1
    X_test: np.ndarray
    y_test: np.ndarray
    lengths_train: np.ndarray  # int64, original lengths
    lengths_test: np.ndarray
    classes: list[str]  # original label of each encoded value
    meta: dict = field(default_factory=dict)  # JSON-serialisable


def check_options(normalise: str, missing: str) -> None:
    """ConfigError for a normalisation or missing-value choice that does not exist."""
    if normalise not in NORMALISE:
        raise ConfigError(f"normalise must be one of {', '.join(NORMALISE)}, got {normalise!r}")
    if missing not in MISSING:
        raise ConfigError(f"missing must be one of {', '.join(MISSING)}, got {missing!r}")


def _as_number(label: str) -> float | None:
    try:
        v = float(label)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def encode_labels(
    train_labels: Sequence[str],
    test_labels: Sequence[str],
    *,
    test_path: Path | str | None = None,
    train_path: Path | str | None = None,
    min_classes: int = 1,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Map labels to 0..K-1 by sorted unique training label.

    Numeric order when every label is a number (so -1 < 1 and 2 < 10, and "1" and "1.0" are one
    class), string order otherwise. The original code's min/max arithmetic breaks on both.
    ``classes[k]`` is the label of class k as first written in the training split. Fewer than
    ``min_classes`` training classes, or a test label that never occurs in training, raise
    DataFormatError naming them (and ``train_path`` or ``test_path``).
    """
    if len(train_labels) == 0:
        raise DataFormatError("no training labels: the training split is empty")
    numbers = [_as_number(str(x)) for x in (*train_labels, *test_labels)]
    numeric = all(v is not None for v in numbers)
    if numeric:
        train_keys: list = numbers[: len(train_labels)]
        test_keys: list = numbers[len(train_labels) :]
    else:
        train_keys = [str(x).strip() for x in train_labels]
        test_keys = [str(x).strip() for x in test_labels]

    first_written: dict = {}
    for key, label in zip(train_keys, train_labels, strict=True):
        first_written.setdefault(key, str(label).strip())
    keys = sorted(first_written)
    index = {key: i for i, key in enumerate(keys)}
    # before the test labels: a one-class training split makes every other test class "unseen"
    if len(keys) < min_classes:
        where = f"{train_path}: " if train_path is not None else ""
        raise DataFormatError(
            f"{where}the training split has only {len(keys)} "
            f"{'class' if len(keys) == 1 else 'classes'} "
            f"({', '.join(repr(first_written[k]) for k in keys)}); a classifier needs at least "
            f"{min_classes}"
        )

    unseen = sorted(
        {str(lab).strip() for k, lab in zip(test_keys, test_labels, strict=True) if k not in index}
    )
    if unseen:
        where = f" in {test_path}" if test_path is not None else ""
        raise DataFormatError(
            f"test label(s) {', '.join(repr(u) for u in unseen)}{where} never occur in the "
            f"training split (training classes: {', '.join(first_written[k] for k in keys)})"
        )
    y_train = np.fromiter((index[k] for k in train_keys), dtype=np.int64, count=len(train_keys))
    y_test = np.fromiter((index[k] for k in test_keys), dtype=np.int64, count=len(test_keys))
    return y_train, y_test, [first_written[k] for k in keys]


def _fill_missing(split: RawSplit, missing: str, which: str) -> tuple[list[np.ndarray], int, int]:
    """Series with NaNs filled; also the number of values filled and of series touched."""
    n_values = n_series = 0
    out = []
    for i, x in enumerate(split.series):
        x = np.asarray(x, dtype=np.float64)
        nan = np.isnan(x)
        k = int(nan.sum())
        if k:
            n_values += k
            n_series += 1
            if missing == "interpolate":
                valid = np.flatnonzero(~nan)
                if valid.size == 0:
                    line = f", line {split.lines[i]}" if i < len(split.lines) else ""
                    raise DataFormatError(
                        f"{split.path}{line}: {which} series #{i + 1} has no values at all, "
                        "so it cannot be interpolated (use missing='zero' to keep it as zeros)"
                    )
                # np.interp holds the nearest valid value beyond either end.
                x = x.copy()
                x[nan] = np.interp(np.flatnonzero(nan), valid, x[valid])
            elif missing == "zero":
                x = np.where(nan, 0.0, x)
        out.append(x)
    if missing == "error" and n_values:
        raise DataFormatError(
            f"{split.path}: {n_values} missing value(s) in {n_series} series of the {which} split; "
            "choose missing='interpolate' or missing='zero' to fill them"
        )
    return out, n_values, n_series


def _znorm(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    # A constant series (or dataset) has no scale: centre it, never divide by ~0.
    return x - mean if std == 0 else (x - mean) / std


def _normalise_series(x: np.ndarray) -> np.ndarray:
    if x.size == 0 or np.ptp(x) == 0:  # exact test: a constant series becomes exact zeros
        return np.zeros_like(x)
    return (x - x.mean()) / x.std()


def _pad(series: list[np.ndarray], length: int) -> np.ndarray:
    out = np.zeros((len(series), length), dtype=np.float32)
    for i, x in enumerate(series):
        out[i, : x.size] = x
    return out


def prepare_splits(
    train: RawSplit,
    test: RawSplit,
    *,
    normalise: str = "series",
    missing: str = "interpolate",
    min_classes: int = 1,
) -> Prepared:
    """Encode labels, fill missing values, normalise, and zero post-pad both splits to one T.

    ``normalise``: "series" (z-normalise each series over its own values: the UCR convention),
    "dataset" (mean/std of all training values, applied to both splits: no test statistics
    leak in), or "none". ``missing``: "interpolate" (linear, edges take the nearest value),
    "zero", or "error". Rows are never dropped. A training split with fewer than
    ``min_classes`` classes is refused (``prepare`` asks for MIN_CLASSES).
    """
    check_options(normalise, missing)
    for split in (train, test):
        if len(split.series) == 0:
            raise DataFormatError(f"{split.path}: no series found (empty split)")
        if len(split.series) != len(split.labels):
            raise DataFormatError(
                f"{split.path}: {len(split.series)} series but {len(split.labels)} labels"
            )
        empty = [i + 1 for i, x in enumerate(split.series) if np.size(x) == 0]
        if empty:
            raise DataFormatError(f"{split.path}: series #{empty[0]} has no values")

    y_train, y_test, classes = encode_labels(
        train.labels,
        test.labels,
        test_path=test.path,
        train_path=train.path,
        min_classes=min_classes,
    )
    xs_train, miss_train, series_miss_train = _fill_missing(train, missing, "train")
    xs_test, miss_test, series_miss_test = _fill_missing(test, missing, "test")

    if normalise == "series":
        xs_train = [_normalise_series(x) for x in xs_train]
        xs_test = [_normalise_series(x) for x in xs_test]
    elif normalise == "dataset":
        values = np.concatenate(xs_train)
        mean = float(values.mean())
        std = 0.0 if np.ptp(values) == 0 else float(values.std())
        xs_train = [_znorm(x, mean, std) for x in xs_train]
        xs_test = [_znorm(x, mean, std) for x in xs_test]

    lengths_train = np.array([x.size for x in xs_train], dtype=np.int64)
    lengths_test = np.array([x.size for x in xs_test], dtype=np.int64)
    length = int(max(lengths_train.max(), lengths_test.max()))
    variable = bool(lengths_train.min() != length or lengths_test.min() != length)

    meta = {
        "length": length,
        "variable_length": variable,
        "n_classes": len(classes),
        "normalise": normalise,
        "missing": missing,
        "n_missing_train": miss_train,
        "n_missing_test": miss_test,
        "series_with_missing_train": series_miss_train,
        "series_with_missing_test": series_miss_test,
    }
    return Prepared(
        X_train=_pad(xs_train, length),
        y_train=y_train,
        X_test=_pad(xs_test, length),
        y_test=y_test,
        lengths_train=lengths_train,
        lengths_test=lengths_test,
        classes=classes,
        meta=meta,
    )
