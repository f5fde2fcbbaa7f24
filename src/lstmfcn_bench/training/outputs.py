"""What a finished run leaves: the ``.keras`` file with the kept weights, the per-epoch
history CSV and the ``_train.json`` that describes the run. Each is written atomically."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..atomic import atomic_target, atomic_write_text
from ..runs import beside_model
from .config import TrainConfig

HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "lr", "seconds")


def history_csv(history: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow({k: (f"{v:.8g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()


def run_info(
    dataset,
    config: TrainConfig,
    history: list[dict],
    best_epoch: int,
    seconds: float,
    resumed_from,
    engine: str = "keras",
) -> dict:
    """The ``_train.json`` of a run: its config, the kept epoch, where and how it ran."""
    import keras

    from .. import runtime

    kept = history[best_epoch - 1] if best_epoch else {}
    return {
        "config": asdict(config),
        "dataset": dataset.name,
        "data_sha256": dataset.meta.get("data_sha256", ""),
        "best_epoch": best_epoch,
        "train_loss": kept.get("loss"),
        "train_accuracy": kept.get("accuracy"),
        "epochs_run": len(history),
        "seconds": seconds,
        "seconds_per_epoch_median": float(np.median([h["seconds"] for h in history]))
        if history
        else None,
        "resumed_from_epoch": resumed_from,
        "engine": engine,
        "backend": keras.backend.backend(),
        "device": runtime.device_description(),
        "precision": runtime.precision(),
        "versions": runtime.versions(),
        "code": runtime.code_version(),
    }


def write_run(model_path: Path, model, history: list[dict], info: dict) -> None:
    """The model file, then the history, then the info (the workflow's outputs)."""
    with atomic_target(model_path) as tmp:
        model.save(tmp)
    atomic_write_text(beside_model(model_path, "history"), history_csv(history))
    atomic_write_text(beside_model(model_path, "info"), json.dumps(info, indent=2) + "\n")
