"""A UCR dataset as NumPy arrays for Python users (``lstmfcn_bench.load_ucr``), fetched and
prepared through the same verified path as ``lstmfcn fetch`` (acquire → formats → preprocess →
the prepared dataset of dataset.py): same cache, same checksums, same errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import splits
from .dataset import META_FILE, Dataset, dataset_dir, default_cache_dir, load, prepare

SPLITS = ("train", "test", None)
LAYOUTS = ("numpy2d", "numpy3d")


def default_root() -> Path:
    """Where :func:`load_ucr` keeps prepared datasets: ``prepared/`` in the download cache
    ($LSTMFCN_CACHE, else ~/.cache/lstmfcn-bench), so no call writes into the working folder."""
    return default_cache_dir() / "prepared"


def load_ucr(
    name: str,
    split: str | None = "train",
    *,
    root: str | os.PathLike | None = None,
    source: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    layout: str = "numpy2d",
    progress: bool = True,
    archive: str = splits.ARCHIVE,
):
    """One UCR dataset as arrays: ``(X, y)`` of ``split`` ("train" or "test"), or with
    ``split=None`` both splits as ``(X_train, y_train, X_test, y_test)``.

    ``archive``: whose train and test: ``"2018"`` (default) the 2018 archive's, as the files and
    the 2023 bake-off have them; ``"2015"`` the paper's, the same but exchanged for the 14
    datasets that the 2018 archive exchanged (:mod:`lstmfcn_bench.data.splits`), as
    ``lstmfcn train`` trains by default and as a released model's ``split_`` says.

    ``X`` is float32 of shape (n, T), or (n, 1, T) with ``layout="numpy3d"`` (sktime's and
    aeon's layout for univariate series). It holds the package's prepared data: missing
    values interpolated, each series z-normalised, shorter
    series zero-padded at the end to the longest length T of either split. ``y`` holds the
    original class labels as written in the training file (strings such as ``"1"``), not the
    0..K-1 codes.

    The dataset is prepared once under ``root`` (default: ``prepared/`` in the download cache,
    ``$LSTMFCN_CACHE`` or ``~/.cache/lstmfcn-bench``; pass ``root="results/data"`` to share the
    workflow's) and read from there afterwards, checked against its recorded sha256. It is
    fetched from ``source`` as ``lstmfcn fetch --source`` takes it (default: the embedded demo
    zips, else the timeseriesclassification.com mirror) into ``cache_dir`` (default: the
    download cache); a given ``source`` prepares the dataset again from it. Errors are the data
    layer's (:mod:`lstmfcn_bench.errors`): an unknown name, a failed or unverifiable download,
    a malformed file, a damaged prepared dataset.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be 'train', 'test' or None, got {split!r}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if archive not in splits.SPLITS:
        raise ValueError(f"archive must be one of {', '.join(splits.SPLITS)}, got {archive!r}")
    root = Path(root) if root is not None else default_root()
    if source is not None or not (dataset_dir(name, root) / META_FILE).exists():
        prepare(
            name,
            root,
            source=source,
            cache_dir=Path(cache_dir) if cache_dir is not None else None,
            progress=progress,
        )
    dataset = splits.oriented(load(name, root), archive)
    if split is None:
        return (*_arrays(dataset, "train", layout), *_arrays(dataset, "test", layout))
    return _arrays(dataset, split, layout)


def _arrays(dataset: Dataset, split: str, layout: str) -> tuple[np.ndarray, np.ndarray]:
    X = getattr(dataset, f"X_{split}")
    codes = getattr(dataset, f"y_{split}")
    y = np.asarray(dataset.classes)[codes]  # classes[k]: the original label of code k
    return (X[:, None, :] if layout == "numpy3d" else X), y
