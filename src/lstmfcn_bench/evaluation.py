"""Evaluate a saved checkpoint on the test split and describe the run in one metrics JSON."""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import numpy as np

from .atomic import atomic_write_text
from .errors import LstmfcnError
from .training import info_path_for, model_input


def load_checkpoint(path: Path):
    """Load a `.keras` file in safe mode (no arbitrary code), or say clearly why not."""
    import keras

    from . import attention, batchnorm, losses  # noqa: F401  (registers the custom classes)

    path = Path(path)
    if not path.is_file():
        raise LstmfcnError(f"no checkpoint at {path}")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise LstmfcnError(f"{path} is not a Keras .keras archive (corrupt or another format)")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # Keras raises many types for a broken archive
        raise LstmfcnError(f"cannot load checkpoint {path}: {type(e).__name__}: {e}") from None
    names = {layer.name for layer in model.layers}
    if "head" not in names or not ({"lstm", "attention_lstm"} & names):
        raise LstmfcnError(f"{path} is a Keras model but not an LSTM-FCN/ALSTM-FCN of this package")
    return model


def checkpoint_shape(model) -> tuple[int, int, bool]:
    """(series length, classes, dimension shuffle) that a loaded model expects."""
    shuffle = any(layer.name == "permute" for layer in model.layers)
    shape = model.input_shape
    length = shape[2] if shuffle else shape[1]
    return int(length), int(model.get_layer("head").units), shuffle


def predict_proba(model, X: np.ndarray, shuffle: bool, batch_size: int = 512) -> np.ndarray:
    return np.asarray(model.predict(model_input(X, shuffle), batch_size=batch_size, verbose=0))


def evaluate(model_path: Path, dataset) -> dict:
    """Test accuracy, per-class accuracy, confusion matrix and the run's provenance."""
    from . import runtime

    t0 = time.perf_counter()
    model = load_checkpoint(model_path)
    length, n_classes, shuffle = checkpoint_shape(model)
    if length != dataset.length or n_classes != dataset.n_classes:
        raise LstmfcnError(
            f"{model_path} expects series of length {length} with {n_classes} classes, but "
            f"{dataset.name} has length {dataset.length} and {dataset.n_classes} classes"
        )
    pred = predict_proba(model, dataset.X_test, shuffle).argmax(axis=1)
    y = dataset.y_test
    K = n_classes
    confusion = np.zeros((K, K), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    support = confusion.sum(axis=1)
    per_class = {
        cls: (float(confusion[k, k] / support[k]) if support[k] else None)
        for k, cls in enumerate(dataset.classes)
    }
    info_path = info_path_for(model_path)
    train_info = json.loads(info_path.read_text()) if info_path.exists() else {}
    config = train_info.get("config", {})
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
        "best_epoch": train_info.get("best_epoch"),
        "epochs_run": train_info.get("epochs_run"),
        "train_seconds": train_info.get("seconds"),
        "seconds_per_epoch_median": train_info.get("seconds_per_epoch_median"),
        "eval_seconds": time.perf_counter() - t0,
        "backend": train_info.get("backend"),
        "device": train_info.get("device"),
        "eval_device": runtime.device_description(),
        "versions": train_info.get("versions") or runtime.versions(),
        "data_sha256": dataset.meta.get("data_sha256"),
        "train_config": config,
    }


def write_metrics(metrics: dict, out: Path) -> None:
    atomic_write_text(Path(out), json.dumps(metrics, indent=2) + "\n")
