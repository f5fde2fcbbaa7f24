"""Training curves of one run: loss, accuracy and learning rate against epoch, the kept epoch
marked, from the run's history CSV and ``_train.json``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..errors import LstmfcnError
from ..runs import history_to_info, stem_of
from .style import new_figure, palette, style


def read_history(path: Path) -> dict[str, np.ndarray]:
    """The columns epoch, loss, accuracy, lr of a run's history CSV, as float arrays."""
    path = Path(path)
    if not path.is_file():
        raise LstmfcnError(f"no history file at {path}")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    needed = ("epoch", "loss", "accuracy", "lr")
    header = rows[0].keys() if rows else ()
    missing = [c for c in needed if c not in header]
    if not rows:
        raise LstmfcnError(f"{path} has no epochs (an empty history)")
    if missing:
        raise LstmfcnError(f"{path} is not a training history: no column {', '.join(missing)}")
    try:
        return {c: np.array([float(r[c]) for r in rows]) for c in needed}
    except (TypeError, ValueError) as e:
        raise LstmfcnError(f"{path}: a non-numeric value in the history ({e})") from None


def curves_figure(history_path: Path, info_path: Path | None = None) -> Figure:
    """Loss, accuracy and learning rate against epoch, the kept epoch marked.

    The kept epoch comes from the run's ``_train.json`` (``best_epoch``); without one it is the
    epoch of minimum training loss, which is how training chooses it.
    """
    history_path = Path(history_path)
    h = read_history(history_path)
    info_path = Path(info_path) if info_path else history_to_info(history_path)
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    kept = info.get("best_epoch")
    source = "from _train.json"
    if not kept:
        kept = int(h["epoch"][int(np.argmin(h["loss"]))])
        source = "minimum training loss"
    kept = int(kept)
    row = np.flatnonzero(h["epoch"] == kept)
    run = stem_of(history_path)
    dataset = info.get("dataset") or history_path.parent.name
    with style():
        fig = new_figure(6.4, 6.0)
        axes = fig.subplots(3, 1, sharex=True)
        colours = palette(3)
        panels = (
            ("loss", "training loss (class-weighted)", colours[0]),
            ("accuracy", "training accuracy", colours[1]),
            ("lr", "learning rate", colours[2]),
        )
        for ax, (key, label, colour) in zip(axes, panels, strict=True):
            ax.plot(h["epoch"], h[key], color=colour, linewidth=1.0)
            ax.set_ylabel(label)
            if key == "lr" or (key == "loss" and np.all(h[key] > 0)):
                ax.set_yscale("log")
            ax.axvline(kept, color="0.35", linestyle="--", linewidth=0.9)
            if row.size:
                ax.plot([kept], [h[key][row[0]]], "o", color="0.15", markersize=4)
        axes[0].legend(
            handles=axes[0].lines[1:2],
            labels=[f"kept epoch {kept} ({source})"],
            loc="upper right",
        )
        axes[-1].set_xlabel("epoch")
        fig.suptitle(f"{dataset} — {run}: training curves ({len(h['epoch'])} epochs)")
    return fig
