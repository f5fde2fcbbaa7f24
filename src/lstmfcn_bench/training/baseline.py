"""Training a baseline (baselines.py): fit it on the prepared training split, save the fitted
classifier with joblib and describe the run in a ``_train.json`` shaped as a Keras run's (what
does not apply, such as epochs and the kept epoch, is null)."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from ..atomic import atomic_target, atomic_write_text
from ..baselines import BASELINES
from ..errors import ConfigError, LstmfcnError
from ..runs import beside_model


def series(X: np.ndarray) -> np.ndarray:
    """A split's series as the collections of time series libraries take them: (n, 1, length)."""
    return np.asarray(X, dtype=np.float64)[:, None, :]


def hyperparameters(classifier) -> dict:
    """The classifier's parameters as JSON values (anything else by its repr)."""
    params = classifier.get_params(deep=False) if hasattr(classifier, "get_params") else {}
    ok = (bool, int, float, str, type(None))
    return {k: (v if isinstance(v, ok) else repr(v)) for k, v in sorted(params.items())}


def build(model: str, seed: int, threads: int):
    """The unfitted classifier of baseline ``model``; ConfigError when its library is missing."""
    baseline = BASELINES[model]
    try:
        return baseline.build(seed, threads)
    except ImportError as e:
        raise ConfigError(
            f"{model} needs {baseline.library}: pip install 'lstmfcn-bench[{baseline.extra}]' ({e})"
        ) from None


def train_baseline(dataset, model: str, seed: int, model_path: Path, threads: int = 1) -> dict:
    """Fit baseline ``model`` with ``seed`` on ``dataset``'s training split; write its model
    file (``model_path``, joblib) and then its ``_train.json``; return the latter."""
    import joblib

    from .. import runtime

    classifier = build(model, seed, threads)
    X, y = series(dataset.X_train), dataset.y_train
    t0 = time.perf_counter()
    classifier.fit(X, y)
    seconds = time.perf_counter() - t0
    library = BASELINES[model].library
    info = {
        "config": {
            "model": model,
            "cells": 0,
            "seed": seed,
            "threads": threads,
            "hyperparameters": hyperparameters(classifier),
        },
        "dataset": dataset.name,
        "data_sha256": dataset.meta.get("data_sha256", ""),
        "best_epoch": None,
        "train_loss": None,
        "train_accuracy": float((classifier.predict(X) == y).mean()),
        "epochs_run": None,
        "seconds": seconds,
        "seconds_per_epoch_median": None,
        "resumed_from_epoch": None,
        "engine": library,
        "backend": None,
        "device": runtime.cpu_description(),
        "precision": None,
        "versions": {
            "python": platform.python_version(),
            **runtime.installed("lstmfcn-bench", library, "numba", "numpy", "scikit-learn"),
        },
        "code": runtime.code_version(),
    }
    with atomic_target(model_path) as tmp:
        joblib.dump(classifier, tmp)
    atomic_write_text(beside_model(model_path, "info"), json.dumps(info, indent=2) + "\n")
    return info


def load_baseline(model_path: Path):
    """A baseline's fitted classifier from its joblib file (a file of this package's own
    workflow: joblib runs code from the file it loads)."""
    import joblib

    model_path = Path(model_path)
    if not model_path.is_file():
        raise LstmfcnError(f"no checkpoint at {model_path}")
    try:
        classifier = joblib.load(model_path)
    except ImportError as e:
        raise ConfigError(f"{model_path} needs a library that is not installed ({e})") from None
    except Exception as e:  # a truncated or foreign file fails in many ways
        raise LstmfcnError(f"{model_path} is not a baseline's joblib file ({e})") from None
    if not hasattr(classifier, "predict"):
        raise LstmfcnError(f"{model_path} holds no classifier ({type(classifier).__name__})")
    return classifier


def use_threads(classifier, model: str | None, threads: int | None) -> None:
    """Make a loaded classifier of baseline ``model`` predict with ``threads`` CPU threads,
    at most (and by default) the CPUs this process may use: the evaluating job's size, not the
    training job's. A classifier of no known baseline (its run unrecorded) keeps its own."""
    usable = len(os.sched_getaffinity(0))  # numba refuses more threads than these
    if model in BASELINES:
        BASELINES[model].use_threads(classifier, min(threads or usable, usable))
