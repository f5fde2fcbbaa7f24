"""What the estimators (estimator.py) take in: series ``X`` in the layouts scikit-learn and
sktime users pass ((n, T), (n, 1, T), a wide DataFrame, sktime's nested one-column DataFrame)
and labels ``y`` of any type, checked the scikit-learn way, preprocessed as ``lstmfcn fetch``
prepares a dataset, and made into the in-memory dataset that training reads."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d, validate_data

if TYPE_CHECKING:
    from .data.dataset import Dataset


def check_series(estimator, X, reset: bool) -> list[np.ndarray]:
    """The series of ``X`` as float64 1-D arrays, checked; sets the ``estimator``'s
    ``n_features_in_`` (the series length) when ``reset``."""
    nested = nested_series(X)
    if nested is not None:
        lengths = {len(s) for s in nested}
        longest = max(lengths)
        if reset:
            estimator.n_features_in_ = longest
            if hasattr(estimator, "feature_names_in_"):
                del estimator.feature_names_in_
        elif longest > estimator.n_features_in_:
            raise ValueError(
                f"X has series of length {longest}, but {type(estimator).__name__} was fitted "
                f"on series of length {estimator.n_features_in_}"
            )
        return nested
    if getattr(X, "ndim", None) == 3 or (isinstance(X, list | tuple) and np.ndim(X) == 3):
        X = np.asarray(X)
        if X.shape[1] != 1:
            raise ValueError(
                f"X of shape {X.shape} has {X.shape[1]} channels: {type(estimator).__name__} "
                "classifies univariate series, (n, T) or (n, 1, T)"
            )
        X = X[:, 0, :]
    elif getattr(X, "ndim", 2) > 3:
        raise ValueError(
            f"X must be (n, T) or (n, 1, T) series, got an array of {X.ndim} dimensions"
        )
    X = validate_data(estimator, X, reset=reset, dtype=np.float64)
    return list(X)


def encode_labels(estimator, y, n_series: int) -> tuple[np.ndarray, np.ndarray]:
    """``(classes, codes)`` of labels ``y``, one per series, checked: the sorted classes (at
    least 2) and each label's index among them."""
    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y is None"
        )
    y = column_or_1d(np.asarray(y) if not hasattr(y, "shape") else y, warn=True)
    if len(y) != n_series:
        raise ValueError(f"X has {n_series} series but y has {len(y)} labels: one label per series")
    _check_finite_labels(y)
    check_classification_targets(y)
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"y has only one class ({classes.tolist()[0]!r}); a classifier needs at least 2 classes"
        )
    return classes, codes


def preprocess(series: list[np.ndarray], length: int) -> np.ndarray:
    """The CLI's preprocessing of checked series: ``prepare_splits`` as ``lstmfcn fetch`` runs
    it (normalise="series"), then zero-padding to the fitted ``length``; float32 (n, length)."""
    from .data.formats import RawSplit
    from .data.preprocess import prepare_splits

    split = RawSplit(series=series, labels=["0"] * len(series), path=Path("<X>"))
    # prepare_splits wants a test split; the same series stand in for it and are dropped.
    X = prepare_splits(split, split, normalise="series", missing="error").X_train
    if X.shape[1] < length:  # shorter nested series: padded like a shorter test series
        X = np.pad(X, ((0, 0), (0, length - X.shape[1])))
    return X


def nested_series(X) -> list[np.ndarray] | None:
    """The series of sktime's nested DataFrame (one column, one pd.Series or array per cell),
    checked; None for anything else."""
    import pandas as pd

    if not isinstance(X, pd.DataFrame) or X.shape[0] == 0 or X.shape[1] == 0:
        return None
    if not all(isinstance(c, pd.Series | np.ndarray | list) for c in X.iloc[0]):
        return None
    if X.shape[1] != 1:
        raise ValueError(
            f"X is a nested DataFrame of {X.shape[1]} columns: only univariate series "
            "(one column) are classified"
        )
    out = []
    for i, cell in enumerate(X.iloc[:, 0]):
        try:
            s = np.asarray(cell, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"series #{i + 1} of X is not numeric ({e})") from None
        if s.ndim != 1 or s.size == 0:
            raise ValueError(f"series #{i + 1} of X must be a non-empty 1-D series")
        if not np.all(np.isfinite(s)):
            raise ValueError(f"Input X contains NaN or infinity (series #{i + 1})")
        out.append(s)
    return out


def training_dataset(X: np.ndarray, series: list[np.ndarray], classes, codes) -> Dataset:
    """The in-memory training :class:`~lstmfcn_bench.data.dataset.Dataset` of preprocessed
    series ``X`` (made from ``series``) with the label ``codes`` of ``classes``; its test split
    is empty."""
    from .data.dataset import Dataset

    return Dataset(
        name="arrays",
        X_train=X,
        y_train=codes.astype(np.int64),
        X_test=np.zeros((0, X.shape[1]), dtype=np.float32),
        y_test=np.zeros(0, dtype=np.int64),
        lengths_train=np.array([len(s) for s in series], dtype=np.int64),
        lengths_test=np.zeros(0, dtype=np.int64),
        meta={
            "n_classes": len(classes),
            "classes": [str(c) for c in classes],
            "length": int(X.shape[1]),
            "normalise": "series",
            "data_sha256": _sha256(X, codes),
        },
    )


def _check_finite_labels(y: np.ndarray) -> None:
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError("Input y contains NaN or infinity")


def _sha256(X: np.ndarray, codes: np.ndarray) -> str:
    h = hashlib.sha256(np.ascontiguousarray(X).tobytes())
    h.update(np.ascontiguousarray(codes, dtype=np.int64).tobytes())
    return h.hexdigest()
