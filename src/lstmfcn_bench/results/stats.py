"""Statistics over datasets: wins/ties/losses, Wilcoxon signed-rank with Holm, mean ranks
(the critical-difference diagram itself is drawn in :mod:`lstmfcn_bench.figures.cd_diagram`).

Methods compared: our selected LSTM-FCN and ALSTM-FCN (cells chosen by training loss, mean
over seeds), the published LSTM-FCN and ALSTM-FCN, and the published baselines: all tested on
the paper's split. A model of another library (baselines.py) trains on the archive's split,
which for 14 datasets tests other series (data/splits.py), so it is compared in today.py (with
the bake-off, on the datasets where the splits agree), not here. A method with no value at all
is left out; then only the datasets where every remaining method has a value are used, so all
numbers in one table share the same datasets.

Choices (documented in the outputs too):

* Accuracies are compared at the table's printed precision, rounded to 4 decimals, so
  0.86190 vs 0.86189 is a tie and not a "win" from the published table's rounding.
* Wilcoxon signed-rank (:func:`scipy.stats.wilcoxon`), two-sided, ``zero_method="wilcox"``
  (zero differences, i.e. ties, are dropped — Wilcoxon's original rule); as R's
  ``wilcox.test``: the exact null distribution when there are fewer than 50 differences, none
  zero and no ties among their absolute values, otherwise the normal approximation with tie
  and continuity correction (see :func:`wilcoxon_options`).
* The smallest two-sided p that n non-zero differences can give is 2/2ⁿ: 0.0625 for n = 5,
  0.03125 for n = 6. With n < 6 non-zero differences no result could reach p < 0.05, so no
  p-value is printed; the ``note`` column says why.
* Holm's step-down correction over the whole family of tests in the table.
* Ranks per dataset with :func:`scipy.stats.rankdata` on −accuracy (rank 1 = most accurate,
  ties averaged); mean over datasets.
* The critical-difference diagram (:func:`scikit_posthocs.critical_difference_diagram`) joins
  methods that the pairwise Wilcoxon–Holm tests (all pairs, α = 0.05) cannot tell apart, as in
  Benavoli et al. (2016) and Ismail Fawaz et al. (2019), instead of the Nemenyi test.
"""

from __future__ import annotations

import base64
import html
import math
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats as sst

from ..runs import DISPLAY, KERAS_MODELS
from .reference import published_methods

DECIMALS = 4
#: Fewest non-zero differences with which a two-sided Wilcoxon test can reach p < 0.05.
MIN_NONZERO = 6
ALPHA = 0.05
ZERO_METHOD = "wilcox"

STATS_COLUMNS = [
    "method",
    "other",
    "n_datasets",
    "wins",
    "ties",
    "losses",
    "mean_diff",
    "n_nonzero",
    "wilcoxon_statistic",
    "p_value",
    "p_holm",
    "mean_rank_method",
    "mean_rank_other",
    "note",
]


def ours_label(model: str) -> str:
    return f"{DISPLAY[model]} (ours)"


def accuracy_matrix(summary: pd.DataFrame) -> pd.DataFrame:
    """Datasets × methods, over the datasets where every compared method has a value.

    Our Keras models first, then the published LSTM-FCN, ALSTM-FCN and baselines (the paper's
    split, see module doc); a method with no value on any dataset is left out. Values rounded
    to 4 decimals.
    """
    cols: dict[str, pd.Series] = {}
    for model in KERAS_MODELS:
        col = f"{model}_selected_mean"
        if col in summary.columns:
            cols[ours_label(model)] = summary[col]
    for name in published_methods():
        if name in summary.columns:
            cols[name] = summary[name]
    return comparable(pd.DataFrame(cols, index=summary.index))


def comparable(acc: pd.DataFrame) -> pd.DataFrame:
    """The methods with any value, on the datasets where all of them have one, rounded to 4
    decimals (see module doc): the matrix every rank, test and CD diagram here is computed on."""
    acc = acc.astype("float64")
    acc = acc.loc[:, acc.notna().any(axis=0)]
    return acc.dropna(axis=0, how="any").round(DECIMALS)


def ranks(acc: pd.DataFrame) -> pd.DataFrame:
    """Per-dataset ranks (1 = most accurate, ties averaged)."""
    if acc.empty:
        return acc.copy()
    r = sst.rankdata(-acc.to_numpy(), method="average", axis=1)
    return pd.DataFrame(r, index=acc.index, columns=acc.columns)


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values; NaN entries are not in the family and stay NaN."""
    p = np.asarray(pvalues, dtype="float64")
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    m = len(idx)
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[j]))
        out[j] = running
    return out


def wilcoxon_options(d: np.ndarray) -> dict:
    """Arguments for :func:`scipy.stats.wilcoxon` on differences ``d`` (as R's wilcox.test).

    Exact null distribution when the non-zero differences are fewer than 50 and have no
    ties in absolute value and there are no zeros; otherwise the normal approximation with
    tie correction and continuity correction. (scipy's ``method="auto"`` would run a
    permutation test with ties, ~0.3 s per test, too slow for the all-pairs CD diagram.)
    """
    nz = d[d != 0]
    exact = len(nz) < 50 and len(nz) == len(d) and len(np.unique(np.abs(nz))) == len(nz)
    return {
        "zero_method": ZERO_METHOD,
        "alternative": "two-sided",
        "method": "exact" if exact else "asymptotic",
        "correction": not exact,
    }


def _pair(x: np.ndarray, y: np.ndarray) -> dict:
    """Wins/ties/losses of x against y and the Wilcoxon test (or a note saying why not)."""
    d = np.round(x - y, DECIMALS + 2)
    n = len(d)
    nonzero = int(np.count_nonzero(d))
    row = {
        "n_datasets": n,
        "wins": int((d > 0).sum()),
        "ties": int((d == 0).sum()),
        "losses": int((d < 0).sum()),
        "mean_diff": round(float(d.mean()), 8) if n else math.nan,
        "n_nonzero": nonzero,
        "wilcoxon_statistic": math.nan,
        "p_value": math.nan,
        "note": "",
    }
    if n < MIN_NONZERO:
        row["note"] = (
            f"too few datasets (n={n}) for a Wilcoxon test "
            f"(p < 0.05 needs at least {MIN_NONZERO} non-zero differences)"
        )
    elif nonzero < MIN_NONZERO:
        row["note"] = (
            f"too few non-zero differences (n={nonzero} of {n} datasets; the rest are ties) "
            f"for a Wilcoxon test (p < 0.05 needs at least {MIN_NONZERO})"
        )
    else:
        res = sst.wilcoxon(d, **wilcoxon_options(d))
        row["wilcoxon_statistic"] = float(res.statistic)
        row["p_value"] = float(res.pvalue)
    return row


def compare(summary: pd.DataFrame) -> pd.DataFrame:
    """Our selected models against every other method (the content of stats.csv).

    One row per pair (ours vs other; ours-vs-ours once). ``mean_diff`` is in accuracy units
    (method − other); ``p_holm`` is Holm-corrected over all rows with a p-value; rows whose
    test cannot reach significance have empty p and a ``note``.
    """
    acc = accuracy_matrix(summary)
    mr = ranks(acc).mean(axis=0) if not acc.empty else pd.Series(dtype="float64")
    ours = [ours_label(m) for m in KERAS_MODELS if ours_label(m) in acc.columns]
    rows, done = [], set()
    for a in ours:
        for b in acc.columns:
            if b == a or frozenset((a, b)) in done:
                continue
            done.add(frozenset((a, b)))
            row = {"method": a, "other": b}
            row.update(_pair(acc[a].to_numpy(), acc[b].to_numpy()))
            row["mean_rank_method"] = float(mr[a])
            row["mean_rank_other"] = float(mr[b])
            rows.append(row)
    out = pd.DataFrame(rows, columns=STATS_COLUMNS)
    if not out.empty:
        out["p_holm"] = holm(out["p_value"].to_numpy())
    out["note"] = out["note"].astype(object)
    if acc.empty and not rows:
        note = "no dataset where all compared methods have values"
        out = pd.DataFrame([{c: math.nan for c in STATS_COLUMNS} | {"note": note}])
        out = out[STATS_COLUMNS]
    return out


def pairwise_pvalues(acc: pd.DataFrame) -> pd.DataFrame:
    """Holm-corrected pairwise Wilcoxon p-values among all methods (1.0 where not testable)."""
    names = list(acc.columns)
    pairs = list(combinations(names, 2))
    raw = [_pair(acc[a].to_numpy(), acc[b].to_numpy())["p_value"] for a, b in pairs]
    adj = holm(raw)
    mat = pd.DataFrame(1.0, index=names, columns=names)
    for (a, b), p in zip(pairs, adj, strict=True):
        v = 1.0 if math.isnan(p) else float(p)
        mat.loc[a, b] = mat.loc[b, a] = v
    return mat


def friedman(acc: pd.DataFrame) -> tuple[float, float] | None:
    """Friedman χ² and p over the common datasets (None with < 3 methods or < 2 datasets)."""
    if acc.shape[1] < 3 or acc.shape[0] < 2:
        return None
    res = sst.friedmanchisquare(*[acc[c].to_numpy() for c in acc.columns])
    return float(res.statistic), float(res.pvalue)


# --------------------------------------------------------------------------- outputs

METHOD_NOTE = (
    "Accuracies compared at 4 decimals. Wins/ties/losses count datasets where the first method "
    "is more/equally/less accurate. Wilcoxon signed-rank test (scipy.stats.wilcoxon, two-sided, "
    "zero_method='wilcox': ties dropped; exact without zeros or tied |differences| and n < 50, else normal approximation with continuity correction, as R's wilcox.test), not computed with fewer than 6 non-zero "
    "differences (with 5, no outcome gives p < 0.05). Holm step-down correction over "
    "all tests in the table. Ranks: 1 = most accurate, ties averaged, mean over the datasets "
    "where all methods have values. CD diagram: methods joined by a bar are not significantly "
    "different by pairwise Wilcoxon–Holm tests (α = 0.05)."
)


def _fmt(v: object, spec: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return format(v, spec)


def render_stats_html(table: pd.DataFrame, summary: pd.DataFrame, png: bytes) -> str:
    e = html.escape
    acc = accuracy_matrix(summary)
    fr = friedman(acc)
    fr_text = (
        f"Friedman χ² = {fr[0]:.2f}, p = {fr[1]:.3g} over {acc.shape[0]} datasets and "
        f"{acc.shape[1]} methods."
        if fr is not None
        else "Friedman test not computed (fewer than 3 methods or 2 datasets)."
    )
    head = [
        ("method", "Method"),
        ("other", "Against"),
        ("n_datasets", "Datasets"),
        ("wins", "Wins"),
        ("ties", "Ties"),
        ("losses", "Losses"),
        ("mean_diff", "Mean Δ (points)"),
        ("p_value", "Wilcoxon p"),
        ("p_holm", "Holm p"),
        ("mean_rank_method", "Mean rank"),
        ("mean_rank_other", "Mean rank (against)"),
        ("note", "Note"),
    ]
    rows = []
    for _, r in table.iterrows():
        cells = []
        for key, _label in head:
            v = r[key]
            if key == "mean_diff":
                text = _fmt(v * 100 if isinstance(v, float) else v, "+.2f")
            elif key in ("p_value", "p_holm"):
                text = _fmt(v, ".3g")
            elif key.startswith("mean_rank"):
                text = _fmt(v, ".2f")
            elif key in ("n_datasets", "wins", "ties", "losses"):
                text = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(int(v))
            else:
                text = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            cls = ""
            if key == "p_holm" and isinstance(v, float) and not math.isnan(v) and v < ALPHA:
                cls = ' class="sig"'
            cells.append(f"<td{cls}>{e(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    mr = ranks(acc).mean(axis=0).sort_values(kind="stable") if not acc.empty else pd.Series()
    rank_rows = "".join(f"<tr><td>{e(str(m))}</td><td>{v:.2f}</td></tr>" for m, v in mr.items())
    img = base64.b64encode(png).decode("ascii")
    css = (
        "body{font-family:system-ui,sans-serif;margin:1.5em}"
        "table{border-collapse:collapse;font-size:.9em;margin-bottom:1.5em}"
        "caption{caption-side:top;text-align:left;padding:.5em 0;max-width:70em}"
        "th,td{border:1px solid #ccc;padding:.2em .5em}th{background:#f0f0f0}"
        "td{font-variant-numeric:tabular-nums}td.sig{background:#c8e6c9;font-weight:600}"
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            "<title>LSTM-FCN / ALSTM-FCN statistics</title>",
            f"<style>{css}</style>",
            "</head>",
            "<body>",
            '<table class="stats">',
            f"<caption><b>Our selected models against the published results.</b> "
            f"{e(METHOD_NOTE)} {e(fr_text)}</caption>",
            "<thead><tr>" + "".join(f"<th>{e(lab)}</th>" for _, lab in head) + "</tr></thead>",
            "<tbody>",
            *rows,
            "</tbody>",
            "</table>",
            '<table class="ranks">',
            "<caption><b>Mean rank</b> (1 = most accurate)</caption>",
            "<thead><tr><th>Method</th><th>Mean rank</th></tr></thead>",
            f"<tbody>{rank_rows}</tbody>",
            "</table>",
            f'<img alt="critical-difference diagram" src="data:image/png;base64,{img}">',
            "</body>",
            "</html>",
            "",
        ]
    )
