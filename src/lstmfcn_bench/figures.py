"""Figures: one style for all of them, reproducible PNG + SVG files, no pyplot global state.

Every figure is a ``matplotlib.figure.Figure`` on an explicit Agg canvas (pyplot is never
imported, so nothing leaks between figures or into a caller's session), drawn and saved inside
:func:`style` — an ``rc_context`` that restores the caller's rcParams on exit. Files are
byte-identical for the same inputs and library versions: PNG without the "Software" text chunk,
SVG without a date and with a constant ``svg.hashsalt`` (the salt of its clip-path ids), and the
font pinned to DejaVu Sans, which ships with matplotlib (seaborn's default list starts with Arial,
which would make the output depend on the fonts a machine happens to have).

Also here: training curves from a run's history CSV and the scatter of our accuracy against the
published one. The CAM and context figures live in :mod:`lstmfcn_bench.cam` and
:mod:`lstmfcn_bench.context` and use the helpers below.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .atomic import atomic_write
from .errors import ConfigError, LstmfcnError

#: Constant salt of the SVG writer's ids, so two saves of one figure give the same bytes.
SVG_HASHSALT = "lstmfcn-bench"
PNG_METADATA = {"Software": None}
SVG_METADATA = {"Date": None}
DPI = 150
#: Colour map of the class activation maps (perceptually uniform, readable in grey).
CAM_CMAP = "viridis"
#: Display names of the models, as in the paper (and the published table's columns).
MODEL_DISPLAY = {"lstm_fcn": "LSTM-FCN", "alstm_fcn": "ALSTM-FCN"}
#: |ours − published| above this (accuracy units) gets the dataset's name in the scatter.
OUTLIER_THRESHOLD = 0.05


def rc_params() -> dict:
    """The shared style: seaborn's "whitegrid" + "paper" context, deterministic output."""
    import seaborn as sns
    from cycler import cycler

    rc: dict = {}
    rc.update(sns.axes_style("whitegrid"))
    rc.update(sns.plotting_context("paper"))
    rc.update(
        {
            "font.family": ["sans-serif"],
            "font.sans-serif": ["DejaVu Sans"],
            "axes.prop_cycle": cycler(color=sns.color_palette("deep")),
            "axes.titlesize": 9.0,
            "axes.spines.right": False,
            "axes.spines.top": False,
            "image.cmap": CAM_CMAP,
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "savefig.facecolor": "white",
            "svg.hashsalt": SVG_HASHSALT,
            "svg.fonttype": "path",
            "path.simplify": True,
        }
    )
    return rc


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Draw and save figures inside this: the shared rcParams, restored on exit."""
    with matplotlib.rc_context(rc_params()):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A figure with constrained layout on its own Agg canvas (call inside :func:`style`)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def palette(n: int) -> list:
    """``n`` colours of the shared palette (seaborn "deep", "husl" beyond ten)."""
    import seaborn as sns

    return list(sns.color_palette("deep" if n <= 10 else "husl", n))


def grid_shape(n_panels: int) -> tuple[int, int]:
    """(rows, columns) for ``n_panels`` panels: one column up to 6, then 2, then 3."""
    cols = 1 if n_panels <= 6 else 2 if n_panels <= 16 else 3
    return math.ceil(n_panels / cols), cols


def wrap(text: str, width: int) -> str:
    """Paragraphs (separated by blank lines) wrapped to ``width`` characters."""
    return "\n".join(textwrap.fill(p.strip(), width) for p in text.split("\n\n"))


def svg_path_for(png: Path) -> Path:
    return Path(png).with_suffix(".svg")


def save_figure(fig: Figure, out: Path) -> tuple[Path, Path]:
    """Write ``out`` (PNG) and the SVG next to it (same stem), atomically; returns both paths."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise ConfigError(
            f"the figure path must end in .png (an .svg is written beside it), got {out}"
        )
    svg = svg_path_for(out)
    with style():
        atomic_write(out, lambda f: fig.savefig(f, format="png", metadata=PNG_METADATA))
        atomic_write(svg, lambda f: fig.savefig(f, format="svg", metadata=SVG_METADATA))
    return out, svg


# ------------------------------------------------------------------------------ training curves


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


def train_info_for(history: Path) -> Path:
    """``<run>_history.csv`` → ``<run>_train.json`` (written by training next to it)."""
    history = Path(history)
    stem = history.stem.removesuffix("_history")
    return history.with_name(f"{stem}_train.json")


def curves_figure(history_path: Path, info_path: Path | None = None) -> Figure:
    """Loss, accuracy and learning rate against epoch, the kept epoch marked.

    The kept epoch comes from the run's ``_train.json`` (``best_epoch``); without one it is the
    epoch of minimum training loss, which is how training chooses it.
    """
    history_path = Path(history_path)
    h = read_history(history_path)
    info_path = Path(info_path) if info_path else train_info_for(history_path)
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    kept = info.get("best_epoch")
    source = "from _train.json"
    if not kept:
        kept = int(h["epoch"][int(np.argmin(h["loss"]))])
        source = "minimum training loss"
    kept = int(kept)
    row = np.flatnonzero(h["epoch"] == kept)
    run = history_path.stem.removesuffix("_history")
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


# ------------------------------------------------------------------------------ scatter


def scatter_figure(summary_path: Path, threshold: float = OUTLIER_THRESHOLD) -> Figure:
    """Our selected accuracy against the published one, one panel per model, y = x drawn;
    datasets with |ours − published| > ``threshold`` are named."""
    from .tables import DISPLAY, MODELS, read_summary

    summary_path = Path(summary_path)
    if not summary_path.is_file():
        raise LstmfcnError(f"no summary table at {summary_path}")
    try:
        summ = read_summary(summary_path)
    except (ValueError, KeyError) as e:
        raise LstmfcnError(
            f"{summary_path} is not a summary.csv of lstmfcn aggregate: {e}"
        ) from None
    models = [m for m in MODELS if f"{m}_selected_mean" in summ.columns and DISPLAY[m] in summ]
    if not models:
        raise LstmfcnError(f"{summary_path} has no '<model>_selected_mean' column to plot")
    with style():
        fig = new_figure(4.6 * len(models), 4.9)
        axes = np.atleast_1d(fig.subplots(1, len(models), squeeze=False)[0])
        colour = palette(2)
        for ax, model, c in zip(axes, models, colour, strict=False):
            _scatter_panel(ax, summ, model, DISPLAY[model], threshold, c)
        fig.suptitle("Selected accuracy (cells chosen by training loss) against the published one")
    return fig


def _scatter_panel(ax, summ, model: str, name: str, threshold: float, colour) -> None:
    ours = summ[f"{model}_selected_mean"].astype(float)
    published = summ[name].astype(float)
    both = ours.notna() & published.notna()
    x, y = published[both].to_numpy(), ours[both].to_numpy()
    names = list(summ.index[both])
    not_in_paper = int((ours.notna() & published.isna()).sum())
    values = np.concatenate([x, y]) if len(x) else np.array([0.0, 1.0])
    lo = max(0.0, math.floor((values.min() - 0.03) * 20) / 20)
    hi = 1.0 + 0.01
    ax.plot([lo, hi], [lo, hi], color="0.3", linewidth=0.9, zorder=1, label="y = x")
    for sign in (-1, 1):
        ax.plot(
            [lo, hi],
            [lo + sign * threshold, hi + sign * threshold],
            color="0.6",
            linestyle=":",
            linewidth=0.8,
            zorder=1,
            label=f"±{threshold * 100:g} points" if sign > 0 else None,
        )
    if len(x):
        ax.scatter(x, y, s=16, color=colour, edgecolor="white", linewidth=0.4, zorder=3)
        diff = y - x
        for xi, yi, di, label in zip(x, y, diff, names, strict=True):
            if abs(di) > threshold:
                ax.annotate(
                    label,
                    (xi, yi),
                    xytext=(4, -3 if di < 0 else 3),
                    textcoords="offset points",
                    fontsize=7,
                    va="top" if di < 0 else "bottom",
                    color="0.15",
                )
        median = float(np.median(np.abs(diff)) * 100)
        title = f"{name}: {len(x)} datasets, median |Δ| {median:.1f} points"
    else:
        ax.text(0.5, 0.5, "no dataset with a published number", ha="center", transform=ax.transAxes)
        title = f"{name}: no published numbers"
    if not_in_paper:
        title += f"\n({not_in_paper} more not in the paper)"
    ax.set_title(title)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xlabel(f"published {name} accuracy")
    ax.set_ylabel(f"our {name} accuracy")
    ax.legend(loc="lower right")


def model_display_name(model) -> str:
    return MODEL_DISPLAY.get(getattr(model, "name", ""), getattr(model, "name", "model"))


def class_labels(dataset) -> list[str]:
    return [str(c) for c in dataset.classes]


def resolve_classes(dataset, wanted: Sequence[str] | None) -> list[int]:
    """Indices of the class labels ``wanted`` (all classes when None), or a clear error."""
    labels = class_labels(dataset)
    if not wanted:
        return list(range(len(labels)))
    out = []
    for label in wanted:
        if str(label) not in labels:
            raise ConfigError(
                f"{dataset.name} has no class {label!r}; its classes are: {', '.join(labels)}"
            )
        out.append(labels.index(str(label)))
    return out
