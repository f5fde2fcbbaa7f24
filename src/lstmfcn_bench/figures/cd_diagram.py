"""The critical-difference diagram: mean ranks of our models and the published methods, with
bars joining those that pairwise Wilcoxon–Holm tests cannot tell apart (Benavoli et al., 2016;
Ismail Fawaz et al., 2019), or a figure that says why it is not drawn."""

from __future__ import annotations

import pandas as pd
import scikit_posthocs as sp
from matplotlib.figure import Figure

from ..results.stats import ALPHA, MIN_NONZERO, accuracy_matrix, friedman, pairwise_pvalues, ranks
from .style import new_figure, style

OURS_COLOUR, PUBLISHED_COLOUR = "#c62828", "#37474f"


def cd_figure(summary: pd.DataFrame) -> Figure:
    """The diagram of the statistics table: our models and the paper's published methods."""
    return cd_matrix_figure(accuracy_matrix(summary))


def cd_matrix_figure(acc: pd.DataFrame) -> Figure:
    """The diagram of a datasets × methods matrix (:func:`..results.stats.comparable`'s);
    methods labelled "(ours)" are drawn in our colour."""
    n, k = acc.shape
    with style():
        if n < MIN_NONZERO or k < 2:
            fig = new_figure(7, 1.6)
            why = (
                f"too few datasets (n={n}) where all {k} compared methods have values"
                if k >= 2
                else f"fewer than two methods with values (k={k})"
            )
            fig.text(
                0.5,
                0.5,
                f"Critical-difference diagram not drawn:\n{why};\n"
                f"the Wilcoxon signed-rank test needs at least {MIN_NONZERO} datasets.",
                ha="center",
                va="center",
            )
            return fig
        fig = new_figure(8, 1.2 + 0.28 * k)
        ax = fig.add_subplot()
        hue = {m: ("ours" if m.endswith("(ours)") else "published") for m in acc.columns}
        drawn = sp.critical_difference_diagram(
            ranks(acc).mean(axis=0),
            pairwise_pvalues(acc),
            ax=ax,
            alpha=ALPHA,
            label_fmt_left="{label} ({rank:.2f})",
            label_fmt_right="({rank:.2f}) {label}",
            hue=hue,
            hue_order=["ours", "published"],
            color_palette={"ours": OURS_COLOUR, "published": PUBLISHED_COLOUR},
        )
        # scikit-posthocs draws each crossbar's points in a set's (hash-seed) order: sorted,
        # the files are the same bytes in every process.
        for bar, *_ in drawn["crossbars"]:
            bar.set_xdata(sorted(bar.get_xdata()))
        # The rank axis is the top spine; the shared style's grid and hidden spines do not apply.
        ax.grid(False)
        ax.spines["top"].set_visible(True)
        title = f"Mean rank over {n} datasets (1 = most accurate); bars: Wilcoxon–Holm p ≥ {ALPHA}"
        fr = friedman(acc)
        if fr is not None:
            title += f"\nFriedman χ² = {fr[0]:.1f}, p = {fr[1]:.2g}"
        ax.set_title(title, pad=24)
    return fig
