"""Our selected accuracy against the published one, one panel per model, y = x drawn and the
datasets far from it named."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..errors import LstmfcnError
from ..results.summary import papers_protocol, read_summary
from ..runs import DISPLAY, MODELS, PUBLISHED_AS
from ..training.config import PAPER_PROTOCOL_TEXT
from .style import new_figure, palette, style

#: |ours − published| above this (accuracy units) gets the dataset's name in the scatter.
OUTLIER_THRESHOLD = 0.05


def scatter_figure(summary_path: Path, threshold: float = OUTLIER_THRESHOLD) -> Figure:
    """Our selected accuracy against the published one, one panel per model, y = x drawn;
    datasets with |ours − published| > ``threshold`` are named."""
    summary_path = Path(summary_path)
    if not summary_path.is_file():
        raise LstmfcnError(f"no summary table at {summary_path}")
    try:
        summ = read_summary(summary_path)
    except (ValueError, KeyError) as e:
        raise LstmfcnError(
            f"{summary_path} is not a summary.csv of lstmfcn aggregate: {e}"
        ) from None
    models = [m for m in MODELS if f"{m}_selected_mean" in summ.columns and PUBLISHED_AS[m] in summ]
    if not models:
        raise LstmfcnError(f"{summary_path} has no '<model>_selected_mean' column to plot")
    with style():
        fig = new_figure(4.6 * len(models), 4.9)
        axes = np.atleast_1d(fig.subplots(1, len(models), squeeze=False)[0])
        colour = palette(2)
        for ax, model, c in zip(axes, models, colour, strict=False):
            _scatter_panel(ax, summ, model, threshold, c)
        fig.suptitle(f"Our test accuracy against the published one\n{_protocol_label(summ)}")
    return fig


def _protocol_label(summ) -> str:
    """Which runs the panels show, short enough for a title."""
    if "from_released" in summ.columns and bool(summ["from_released"].all()):
        return "released models (the paper's protocol), evaluated without training"
    if papers_protocol(summ):
        return f"the paper's protocol: {PAPER_PROTOCOL_TEXT}"
    return "not the paper's protocol (the table's headline says how it differs)"


def _scatter_panel(ax, summ, model: str, threshold: float, colour) -> None:
    ours = summ[f"{model}_selected_mean"].astype(float)
    published = summ[PUBLISHED_AS[model]].astype(float)
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
        title = f"{DISPLAY[model]}: {len(x)} datasets, median |Δ| {median:.1f} points"
    else:
        ax.text(0.5, 0.5, "no dataset with a published number", ha="center", transform=ax.transAxes)
        title = f"{DISPLAY[model]}: no published numbers"
    if not_in_paper:
        title += f"\n({not_in_paper} more not in the paper)"
    ax.set_title(title)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xlabel(f"published {PUBLISHED_AS[model]} accuracy")
    ax.set_ylabel(f"our {DISPLAY[model]} accuracy")
    ax.legend(loc="lower right")
