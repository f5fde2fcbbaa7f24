"""Evaluate a saved checkpoint on the test split and describe the run in one metrics JSON.

Besides the paper's test accuracy, every evaluation checks the kept model on its own training
split in inference mode and flags the two ways a run fails (:func:`collapse_flags`), and scores
the BN-recalibrated variant (models/batchnorm.py ``recalibrate``: the BatchNorm statistics
recomputed on the training split at the kept weights; no test data involved). The variant is
reported under ``recalibrated``, never as the paper's number."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_text
from ..data import splits
from ..errors import LstmfcnError
from ..models.checkpoint import (
    check_model_fits,
    load_checkpoint,
    model_series_input,
    predict_proba,
)
from ..runs import beside_model, is_baseline_file

#: A kept training accuracy (training mode) within this of the majority class's share is chance.
NEAR_CHANCE = 0.05
#: Training-mode accuracy minus inference-mode accuracy on the same training split above this:
#: the model fits, but its BatchNorm moving statistics do not describe what it computes.
INFERENCE_GAP = 0.2


def _trained_on(info: dict, info_path: Path, dataset, allow_other_data: bool) -> dict | None:
    """None when the run was trained on ``dataset`` (name and data sha256 as its _train.json
    records them); else what it was trained on, if ``allow_other_data``, or an error."""
    trained = {"dataset": info.get("dataset"), "data_sha256": info.get("data_sha256")}
    here = {"dataset": dataset.name, "data_sha256": dataset.meta.get("data_sha256")}
    if trained == here:
        return None
    if not allow_other_data:
        what = (
            f"dataset {trained['dataset']}"
            if trained["dataset"] != here["dataset"]
            else f"other data of {here['dataset']} (sha256 {trained['data_sha256']})"
        )
        raise LstmfcnError(
            f"{info_path} says the model was trained on {what}, not on {here['dataset']} "
            f"(sha256 {here['data_sha256']}); pass --allow-other-data to evaluate it anyway"
        )
    return trained


def evaluate(
    model_path: Path,
    dataset,
    info_path: Path | None = None,
    allow_other_data: bool = False,
    threads: int | None = None,
) -> dict:
    """Test accuracy, per-class accuracy, confusion matrix and the run's provenance (from the
    run's ``_train.json``: ``info_path``, by default the one beside the model; or a committed
    record, which holds it, for a released model).

    The model must have been trained on ``dataset`` (its _train.json says on which); with
    ``allow_other_data`` (transfer experiments) it is evaluated anyway and the metrics record
    what it was trained on under ``trained_on``. A baseline predicts with ``threads`` CPU
    threads (None: all); a Keras model's are set by runtime.configure beforehand."""
    from .. import runtime

    from ..training.baseline import load_baseline, use_threads

    t0 = time.perf_counter()
    baseline = is_baseline_file(model_path)  # a model of another library
    model = load_baseline(model_path) if baseline else load_checkpoint(model_path)
    info_path = Path(info_path) if info_path else beside_model(model_path, "info")
    history_path = beside_model(model_path, "history")
    released = None  # a released model's file, size and sha256, from its record
    if info_path.is_file():
        try:
            train_info = json.loads(info_path.read_text("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise LstmfcnError(f"{info_path} is not a run's _train.json ({e})") from None
        if isinstance(train_info, dict) and "record_version" in train_info:
            released = train_info.get("released")
            train_info, history_path = _released_run(model_path, info_path, train_info)
    elif allow_other_data:
        train_info = {}
    else:
        raise LstmfcnError(
            f"no {info_path}: the run's _train.json says which dataset the model was trained "
            "on; pass --info, or --allow-other-data to evaluate it without that check"
        )
    trained_on = _trained_on(train_info, info_path, dataset, allow_other_data)
    config = train_info.get("config", {})
    if not baseline:  # tested on what the run did not train on (a baseline: the archive's)
        dataset = splits.oriented(dataset, splits.of_run(config))
    if baseline:
        use_threads(model, config.get("model"), threads)
        pred, checks = _baseline_checks(model, model_path, dataset)
    else:
        pred, checks = _keras_checks(model, model_path, dataset, train_info, history_path)
    y = dataset.y_test
    K = dataset.n_classes
    confusion = np.zeros((K, K), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    support = confusion.sum(axis=1)
    per_class = {
        cls: (float(confusion[k, k] / support[k]) if support[k] else None)
        for k, cls in enumerate(dataset.classes)
    }
    return {
        "dataset": dataset.name,
        "model": config.get("model"),
        "cells": config.get("cells"),
        "seed": config.get("seed"),
        "test_accuracy": float((pred == y).mean()),
        "n_test": int(len(y)),
        "per_class_accuracy": per_class,
        "confusion_matrix": confusion.tolist(),
        "classes": dataset.classes,
        "train_loss": train_info.get("train_loss"),
        "train_accuracy": train_info.get("train_accuracy"),
        **checks,  # train_accuracy_inference, flags, recalibrated
        "best_epoch": train_info.get("best_epoch"),
        "epochs_run": train_info.get("epochs_run"),
        "train_seconds": train_info.get("seconds"),
        "seconds_per_epoch_median": train_info.get("seconds_per_epoch_median"),
        "eval_seconds": time.perf_counter() - t0,
        "backend": train_info.get("backend"),
        "device": train_info.get("device"),
        # A baseline runs on the CPU (no Keras backend to ask).
        "eval_device": runtime.cpu_description() if baseline else runtime.device_description(),
        "versions": train_info.get("versions") or runtime.versions(),
        "data_sha256": dataset.meta.get("data_sha256"),
        "trained_on": trained_on,  # null: trained on this dataset, as checked
        "train_config": config,
        "released": released,
    }


def _keras_checks(model, model_path: Path, dataset, train_info: dict, history_path: Path):
    """A Keras model's test predictions, and what else evaluation checks of it: its accuracy
    on its training split in inference mode, the collapse flags and the BN-recalibrated
    variant (which changes the model's statistics, so it comes last)."""
    check_model_fits(model, dataset, model_path)
    pred = predict_proba(model, dataset.X_test).argmax(axis=1)
    inference_train = _accuracy(model, dataset.X_train, dataset.y_train)
    flags = collapse_flags(
        train_info.get("train_accuracy"),
        inference_train,
        _first_loss(history_path),
        train_info.get("train_loss"),
        np.bincount(dataset.y_train).max() / len(dataset.y_train),
    )
    from ..models.batchnorm import recalibrate  # Keras: not imported for a baseline

    variance_ratios = recalibrate(model, model_series_input(model, dataset.X_train))
    recalibrated = {
        "test_accuracy": _accuracy(model, dataset.X_test, dataset.y_test),
        "train_accuracy_inference": _accuracy(model, dataset.X_train, dataset.y_train),
        "moving_variance_ratio": variance_ratios,  # per BN layer: old / exact, median
    }
    checks = {
        "train_accuracy_inference": inference_train,
        "flags": flags,
        "recalibrated": recalibrated,
    }
    return pred, checks


def _baseline_checks(classifier, model_path: Path, dataset):
    """A baseline's test predictions; it has no training mode, BatchNorm or loss curve, so its
    training accuracy is its only check and it is never flagged or recalibrated."""
    from ..training.baseline import series

    if getattr(classifier, "n_timepoints_", dataset.length) != dataset.length:
        raise LstmfcnError(
            f"{model_path} takes series of length {classifier.n_timepoints_}, "
            f"{dataset.name}'s are {dataset.length}"
        )
    pred = np.asarray(classifier.predict(series(dataset.X_test)))
    train = float((classifier.predict(series(dataset.X_train)) == dataset.y_train).mean())
    return pred, {"train_accuracy_inference": train, "flags": [], "recalibrated": None}


def _accuracy(model, X, y) -> float:
    return float((predict_proba(model, X).argmax(axis=1) == y).mean())


def _released_run(model_path: Path, record_path: Path, record: dict) -> tuple[dict, Path]:
    """A committed record given as a released model's ``--info``: its ``_train.json`` and its
    thinned history, once the model is checked to hold the weights the record names."""
    from .weights import weights_digest

    kept = record.get("kept_weights_sha256")
    if kept is None or weights_digest(model_path) != kept:
        raise LstmfcnError(
            f"{model_path} does not hold the weights {record_path} names "
            f"(kept_weights_sha256 {kept}): not that record's model"
        )
    return record.get("train_info") or {}, record_path.with_name(f"{record_path.stem}_history.csv")


def _first_loss(history_path: Path) -> float | None:
    """The first epoch's training loss from a run's history CSV, if it is there."""
    import csv

    try:
        with open(history_path, newline="") as f:
            first = next(csv.DictReader(f), None)
        return float(first["loss"]) if first else None
    except (OSError, KeyError, TypeError, ValueError):
        return None


def collapse_flags(
    train_accuracy, inference_train_accuracy, first_loss, kept_loss, majority_share
) -> list[str]:
    """How a run failed, if it did:

    - ``never_learned``: the kept (training-mode) accuracy is within :data:`NEAR_CHANCE` of
      always answering the majority class, or the loss never went below its first epoch's;
    - ``inference_collapse``: it fits its training split in training mode but scores
      :data:`INFERENCE_GAP` lower on the same split in inference mode (BatchNorm's moving
      statistics, not the weights, fail; the recalibrated variant shows what the weights do).
    """
    flags = []
    chance = train_accuracy is not None and train_accuracy <= majority_share + NEAR_CHANCE
    stuck = first_loss is not None and kept_loss is not None and kept_loss >= first_loss
    if chance or stuck:
        flags.append("never_learned")
    elif train_accuracy is not None and train_accuracy - inference_train_accuracy > INFERENCE_GAP:
        flags.append("inference_collapse")
    return flags


def write_metrics(metrics: dict, out: Path) -> None:
    atomic_write_text(Path(out), json.dumps(metrics, indent=2) + "\n")
