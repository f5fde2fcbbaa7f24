"""Where LSTM-FCN stands today: our selected LSTM-FCN and ALSTM-FCN (and a baseline we trained
beside them, such as MiniRocket) beside the 2023 bake-off's methods and the authors' published
LSTM-FCN / ALSTM-FCN, on the datasets of the reproduction that the bake-off has (``today.csv``,
``today.html``; the CD diagram is drawn by :mod:`lstmfcn_bench.figures.cd_diagram`). A baseline
of ours that lacks one of those datasets is left out as a column, not the dataset as a row.

The bake-off's numbers and the authors' are published references (:mod:`.reference`): the
bake-off's on the 2018 archive's train/test split, the authors' on the 2015 archive's, which is
the 2018 one exchanged for 14 datasets (:mod:`lstmfcn_bench.data.splits`); ours are our runs of
the paper's protocol (the results table's selected means), on the paper's split. Those 14 are
left out as rows: there the published and our LSTM-FCN test on other series than the bake-off. Ranks, means and the CD diagram use the rules of :mod:`.stats`: the datasets
where every method has a value, accuracies compared at 4 decimals, rank 1 = most accurate.
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field
from itertools import combinations

import pandas as pd

from ..baselines import BASELINES
from ..data import splits
from ..runs import DISPLAY, PAPER_MODELS, PUBLISHED_AS
from .reference import bakeoff_methods, bakeoff_table, published_table
from .render import breakable_name, fmt_acc, protocol_text
from .stats import ALPHA, MIN_NONZERO, comparable, ours_label, pairwise_pvalues, ranks

#: The paper's datasets, which both reference tables cover in full.
N_PAPER = 85
#: Those of them whose published accuracies are on the bake-off's split (data/splits.py).
N_COMPARABLE = N_PAPER - len(splits.EXCHANGED_SINCE_2015)
SUMMARY_ROWS = {
    "mean_covered": "mean over the covered datasets",
    "mean_rank": "mean rank over the covered datasets (1 = most accurate)",
    "mean_comparable": (
        f"mean over the paper's {N_COMPARABLE} datasets whose split is the bake-off's "
        "(references only)"
    ),
}
BAKEOFF_NOTE = (
    "Bake-off columns: published test accuracies of the 2023 bake-off (Middlehurst, Schäfer and "
    "Bagnall, “Bake off redux”; tsml-eval's results, resample 0 = each archive's own train/test "
    "split), not rerun here. “(published)”: the LSTM-FCN and ALSTM-FCN accuracies the authors "
    "published with the paper's code (their leak-free rerun). “(ours)”: our runs of the paper's "
    "protocol, the results table's selected means over seeds, and of a baseline trained here "
    "on the same data with its library's defaults (MiniRocket, aeon) where the table has it."
)


#: Why a dataset whose train and test the 2018 archive exchanged is not compared.
SPLIT_NOTE = (
    "the paper's split (the 2015 archive's) is the bake-off's train and test exchanged, so the "
    "published LSTM-FCN and ALSTM-FCN and our runs of the paper's protocol test on other series"
)


def published_label(model: str) -> str:
    return f"{DISPLAY[model]} (published)"


def references() -> pd.DataFrame:
    """The reference methods on the paper's 85 datasets: the authors' published LSTM-FCN and
    ALSTM-FCN, then the bake-off's methods."""
    pub = published_table()
    cols = {published_label(m): pub[PUBLISHED_AS[m]] for m in PAPER_MODELS}
    return pd.DataFrame(cols).join(bakeoff_table(), how="outer")[[*cols, *bakeoff_methods()]]


@dataclass(frozen=True)
class Comparison:
    """Covered datasets × methods (full precision) and each method's bottom line."""

    accuracy: pd.DataFrame
    mean_covered: pd.Series
    mean_rank: pd.Series
    #: the references' mean over the paper's datasets where every one tests the same series
    mean_comparable: pd.Series
    #: dataset of ours that is not compared → why
    left_out: dict[str, str] = field(default_factory=dict)
    #: a baseline of ours that is not compared → why (it lacks some of the reproduction's datasets)
    methods_left_out: dict[str, str] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.accuracy)


def compare_today(summary: pd.DataFrame) -> Comparison:
    """Our selected models beside the references, on the datasets of ``summary`` that the
    bake-off has and where every compared method has a value."""
    ours = {
        ours_label(m): summary[f"{m}_selected_mean"]
        for m in (*PAPER_MODELS, *BASELINES)  # a baseline trained beside them, on the same data
        if f"{m}_selected_mean" in summary.columns
    }
    reproduced = [m for m in PAPER_MODELS if f"{m}_selected_mean" in summary.columns]
    if reproduced:  # the datasets of the reproduction (a baseline may cover more)
        summary = summary[summary[[f"{m}_selected_mean" for m in reproduced]].notna().any(axis=1)]
        ours = {label: values.reindex(summary.index) for label, values in ours.items()}
    refs = references()
    full = pd.DataFrame(ours, index=summary.index).astype("float64")
    full = full.join(refs, how="left")[[*ours, *refs.columns]]
    left_out = {d: f"not in the bake-off's {N_PAPER} datasets" for d in full.index if d not in refs.index}
    left_out.update({d: SPLIT_NOTE for d in full.index if d in splits.EXCHANGED_SINCE_2015})
    # The reproduction's datasets decide what is compared: a baseline that lacks one of them is
    # left out as a column, rather than the dataset as a row.
    methods_left_out = {}
    baselines = [ours_label(m) for m in BASELINES if reproduced and ours_label(m) in full]
    # the rows compared whatever the baselines: no other method lacks a value there
    compared = full.drop(index=list(left_out), columns=baselines).dropna().index
    for label in baselines:
        missing = [d for d in compared if math.isnan(full.at[d, label])]
        if missing:
            methods_left_out[label] = f"no run on {', '.join(missing)}"
    full = full.drop(columns=list(methods_left_out))
    rounded = comparable(full.drop(index=list(left_out)))
    if rounded.empty:  # nothing covered: still every method, with its mean over the 71
        rounded = full.iloc[:0]
    for ds, row in full.loc[full.index.difference(rounded.index)].iterrows():
        if ds not in left_out:
            missing = [m for m in rounded.columns if math.isnan(row[m])]
            left_out[ds] = f"no value for {', '.join(missing)}"
    acc = full.loc[rounded.index, rounded.columns]
    return Comparison(
        accuracy=acc,
        mean_covered=acc.mean(axis=0),
        mean_rank=ranks(rounded).mean(axis=0),
        # Not over all 85: on the 14 exchanged the authors' and the bake-off's test other series.
        mean_comparable=refs.drop(index=list(splits.EXCHANGED_SINCE_2015), errors="ignore")
        .reindex(columns=acc.columns)
        .mean(axis=0),
        left_out=dict(sorted(left_out.items())),
        methods_left_out=methods_left_out,
    )


def rank_matrix(comparison: Comparison) -> pd.DataFrame:
    """The matrix the ranks and the CD diagram are computed on (4 decimals, as in stats)."""
    return comparable(comparison.accuracy)


def today_table(comparison: Comparison) -> pd.DataFrame:
    """today.csv: one row per covered dataset, one per left-out dataset (empty, with the
    reason), then the three summary rows; one column per method and a ``note``."""
    acc = comparison.accuracy.copy()
    acc["note"] = ""
    skipped = pd.DataFrame(index=list(comparison.left_out), columns=acc.columns, dtype="float64")
    skipped["note"] = [f"left out: {why}" for why in comparison.left_out.values()]
    bottom = pd.DataFrame(
        [comparison.mean_covered, comparison.mean_rank, comparison.mean_comparable],
        index=list(SUMMARY_ROWS),
    )
    bottom["note"] = [f"{text} (n={comparison.n})" for text in SUMMARY_ROWS.values()]
    bottom.loc["mean_comparable", "note"] = SUMMARY_ROWS["mean_comparable"]
    out = pd.concat([acc, skipped, bottom] if len(skipped) else [acc, bottom])
    out.index.name = "dataset"
    return out


def significant_pairs(comparison: Comparison) -> tuple[int, int]:
    """(pairs that pairwise Wilcoxon–Holm tests tell apart at α = 0.05, all pairs)."""
    acc = rank_matrix(comparison)
    p = pairwise_pvalues(acc)
    pairs = list(combinations(acc.columns, 2))
    return sum(bool(p.loc[a, b] < ALPHA) for a, b in pairs), len(pairs)


def coverage_text(comparison: Comparison) -> str:
    """How many datasets are compared, and how far the ranks can be trusted, in words."""
    n = comparison.n
    text = f"Covered: {n} of the paper's {N_PAPER} datasets."
    if comparison.left_out:
        by_reason: dict[str, list[str]] = {}
        for d, r in comparison.left_out.items():
            by_reason.setdefault(r, []).append(d)
        why = "; ".join(f"{', '.join(ds)} ({r})" for r, ds in by_reason.items())
        text += f" Left out: {why}."
    if comparison.methods_left_out:
        why = "; ".join(f"{m} ({r})" for m, r in comparison.methods_left_out.items())
        text += f" Not compared: {why}."
    if n < MIN_NONZERO:
        return (
            f"{text} Too few datasets (n={n}) for any Wilcoxon test (p < 0.05 needs at least "
            f"{MIN_NONZERO}): the mean ranks are not conclusive."
        )
    sig, pairs = significant_pairs(comparison)
    tests = f"pairwise Wilcoxon signed-rank tests, Holm-corrected, α = {ALPHA}"
    if sig:
        text += (
            f" {sig} of {pairs} pairs of methods differ significantly ({tests}); the other "
            "differences in mean rank are not conclusive."
        )
    else:
        text += (
            f" No pair of the {len(comparison.accuracy.columns)} methods differs significantly "
            f"({tests}): the differences in mean rank are not conclusive."
        )
    if n < N_COMPARABLE:
        text += (
            " The covered datasets are the ones we ran, not a sample of the archive: the ranks "
            "describe these datasets only, and the means over them are not comparable with the "
            f"references' means over the {N_COMPARABLE} of the {N_PAPER} on one split."
        )
    return text


CSS = (
    "body{font-family:system-ui,sans-serif;margin:1.5em;max-width:1240px}"
    "p{max-width:70em}"
    "table{border-collapse:collapse;font-size:.8em;margin-bottom:1.5em}"
    "th,td{border:1px solid #ccc;padding:.2em .35em}"
    # Narrow headers wrap method names at spaces and hyphens, so 14 columns fit in 1280 px.
    "th{background:#f0f0f0;width:4.5em;vertical-align:bottom}"
    "th.ours{color:#c62828}"
    "td{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "td.name{text-align:left}td.best{font-weight:700}"
    "tbody.bottom td{background:#fafafa;font-weight:600}tbody.bottom td.name{white-space:normal}"
    "img{max-width:100%}"
)


def _cells(values: pd.Series, fmt, best: float | None) -> str:
    out = []
    for v in values:
        cls = ' class="best"' if best is not None and not math.isnan(v) and v == best else ""
        out.append(f"<td{cls}>{html.escape(fmt(v))}</td>")
    return "".join(out)


def _table_html(comparison: Comparison) -> list[str]:
    e = html.escape
    methods = list(comparison.accuracy.columns)
    head = "".join(
        f'<th class="ours">{e(m)}</th>' if m.endswith("(ours)") else f"<th>{e(m)}</th>"
        for m in methods
    )
    rounded = rank_matrix(comparison)
    rows = [
        f'<tr><td class="name">{breakable_name(str(ds))}</td>'
        f"{_cells(comparison.accuracy.loc[ds], fmt_acc, rounded.loc[ds].max())}</tr>"
        for ds in comparison.accuracy.index
    ]

    def rank(v: float) -> str:
        return "—" if math.isnan(v) else f"{v:.2f}"

    n = comparison.n
    bottom = [
        (f"Mean over the {n} covered", comparison.mean_covered, fmt_acc),
        (f"Mean rank over the {n} covered", comparison.mean_rank, rank),
        (
            f"Mean over the {N_COMPARABLE} of the {N_PAPER} on one split (references)",
            comparison.mean_comparable,
            fmt_acc,
        ),
    ]
    foot = [
        f'<tr><td class="name">{e(label)}</td>{_cells(vals, fmt, None)}</tr>'
        for label, vals, fmt in bottom
    ]
    return [
        '<table class="today">',
        f'<thead><tr><th>Dataset</th>{head}</tr></thead>',
        "<tbody>",
        *rows,
        "</tbody>",
        '<tbody class="bottom">',
        *foot,
        "</tbody>",
        "</table>",
    ]


def render_today_html(comparison: Comparison, summary: pd.DataFrame, png: bytes) -> str:
    """today.html: the comparison, what its numbers are, and the CD diagram (no timestamps)."""
    e = html.escape
    img = base64.b64encode(png).decode("ascii")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            "<title>LSTM-FCN / ALSTM-FCN today</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            "<h1>Where LSTM-FCN stands today</h1>",
            f"<p>{e(BAKEOFF_NOTE)}</p>",
            f"<p><b>Ours:</b> {e(protocol_text(summary))}</p>",
            f"<p><b>{e(coverage_text(comparison))}</b></p>",
            "<p>Test accuracy per dataset (bold: the most accurate at 4 decimals); mean ranks "
            "over the covered datasets, ties averaged.</p>",
            *_table_html(comparison),
            f'<img alt="critical-difference diagram" src="data:image/png;base64,{img}">',
            "</body>",
            "</html>",
            "",
        ]
    )
