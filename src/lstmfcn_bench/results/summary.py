"""The results table's numbers: per-run metrics → one row per dataset, next to the published
numbers, and the bottom line per model.

Selection rule (the paper's, leak-free): for every dataset, model and seed, the run kept is
the one among the trained cells (8, 64, 128) whose checkpoint reached the *lowest training
loss*; ties go to the fewer cells. Test accuracy is never used to choose. The selected runs'
test accuracies are then averaged over seeds (mean ± sample standard deviation, ``ddof=1``;
the std is NaN when there is a single seed — one run has no spread to report).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats as sst

from ..baselines import is_baseline
from ..errors import LstmfcnError
from ..runs import DISPLAY, MODELS, PUBLISHED_AS
from ..training.config import PAPER_CELLS
from .reference import published_methods, reference_table

#: |selected − published| at or below this (accuracy units) counts as "reproduced".
WITHIN = 0.015


def _std(values: np.ndarray) -> float:
    """Sample standard deviation (ddof=1); NaN for a single value."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def select_runs(long: pd.DataFrame) -> pd.DataFrame:
    """The paper's selection: per (dataset, model, seed) the run with the lowest training loss.

    Ties in training loss go to the fewer cells. Every seed of a (dataset, model) must have
    the same set of cells, otherwise the choice would be made among different candidates.
    """
    if long.empty:
        return long.copy()
    for (ds, model), g in long.groupby(["dataset", "model"], sort=True):
        grids = {s: frozenset(c["cells"]) for s, c in g.groupby("seed")}
        if len(set(grids.values())) > 1:
            detail = "; ".join(f"seed {s}: cells {sorted(c)}" for s, c in sorted(grids.items()))
            raise LstmfcnError(
                f"{ds} / {model}: seeds were trained with different cells ({detail}); "
                "the selection by training loss needs the same cells for every seed"
            )
    ordered = long.sort_values(["dataset", "model", "seed", "train_loss", "cells"], kind="stable")
    chosen = ordered.groupby(["dataset", "model", "seed"], sort=True).head(1)
    return chosen.sort_values(["dataset", "model", "seed"], kind="stable").reset_index(drop=True)


def summary(long: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset (index ``dataset``, 2018 name).

    Columns, for each model present (LSTM-FCN first): ``{model}_c{cells}_mean``/``_std`` per
    trained cells, ``{model}_selected_mean``/``_std``/``_cells`` (cells chosen per seed by
    training loss, e.g. ``"8/64/8"`` in seed order) and ``{model}_diff`` (selected mean −
    published, accuracy units; NaN where the dataset is not in the paper); for a baseline,
    ``{model}_n_seeds`` and ``{model}_outside_seeds`` (:func:`outside_seed_spread` against its
    bake-off reference); then ``n_seeds`` (of the reproduced, non-baseline, models),
    ``name_2015`` and the published accuracy columns (LSTM-FCN, ALSTM-FCN, baselines).
    Standard deviations use ddof=1 and are NaN for a single seed.
    """
    if long.empty:
        raise LstmfcnError("no runs to summarise (no metrics files?)")
    pub = reference_table()
    datasets = sorted(long["dataset"].unique())
    models = [m for m in MODELS if m in set(long["model"])]
    selected = select_runs(long)
    out = pd.DataFrame(index=pd.Index(datasets, name="dataset"))
    for model in models:
        runs = long[long["model"] == model]
        for cells in [] if is_baseline(model) else sorted(runs["cells"].unique()):
            grp = runs[runs["cells"] == cells].groupby("dataset")["accuracy"]
            out[f"{model}_c{cells}_mean"] = grp.mean()
            out[f"{model}_c{cells}_std"] = grp.agg(lambda a: _std(a.to_numpy()))
        sel = selected[selected["model"] == model].groupby("dataset")
        out[f"{model}_selected_mean"] = sel["accuracy"].mean()
        out[f"{model}_selected_std"] = sel["accuracy"].agg(lambda a: _std(a.to_numpy()))
        cells_str = sel["cells"].agg(lambda c: "/".join(str(int(x)) for x in c))
        out[f"{model}_selected_cells"] = cells_str.astype(object).reindex(out.index)
        published = pub[PUBLISHED_AS[model]].reindex(out.index)
        if is_baseline(model):  # its reference is not a column of the paper's table
            out[PUBLISHED_AS[model]] = published
        out[f"{model}_diff"] = out[f"{model}_selected_mean"] - published
        if is_baseline(model):  # never flagged nor recalibrated; is Δ within its seeds?
            out[f"{model}_n_seeds"] = _seeds(runs, out.index)
            out[f"{model}_outside_seeds"] = outside_seed_spread(runs, published)
            continue
        flagged = selected[(selected["model"] == model) & (selected["flags"] != "")]
        out[f"{model}_flagged"] = (
            flagged.groupby("dataset").size().reindex(out.index).fillna(0).astype("int64")
        )
        unflagged = selected[(selected["model"] == model) & (selected["flags"] == "")]
        out[f"{model}_unflagged_mean"] = unflagged.groupby("dataset")["accuracy"].mean()
        out[f"{model}_unflagged_diff"] = out[f"{model}_unflagged_mean"] - published
        out[f"{model}_recalibrated_mean"] = sel["recalibrated_accuracy"].mean()
        out[f"{model}_recalibrated_diff"] = out[f"{model}_recalibrated_mean"] - published
    # The seeds of the reproduced models; a baseline's are its own column (above).
    reproduced = long[~long["model"].map(is_baseline)]
    out["n_seeds"] = _seeds(reproduced if len(reproduced) else long, out.index)
    out["protocol"] = pd.Series(
        {d: _dataset_protocol(g) for d, g in long.groupby("dataset")}, dtype=object
    ).reindex(out.index)
    # Released runs were selected from every cells count when they were published.
    out["from_released"] = long.groupby("dataset")["released"].all().reindex(out.index)
    out["name_2015"] = pub["name_2015"].reindex(out.index).astype(object)
    for col in published_methods():
        out[col] = pub[col].reindex(out.index).astype("float64")
    return out


def _seeds(runs: pd.DataFrame, index: pd.Index) -> pd.Series:
    """How many seeds ``runs`` hold per dataset of ``index`` (0 for none)."""
    return runs.groupby("dataset")["seed"].nunique().reindex(index).fillna(0).astype("int64")


def outside_seed_spread(runs: pd.DataFrame, reference: pd.Series) -> pd.Series:
    """Per dataset, whether the ``reference`` accuracy (a published run of the same method on
    the same split, with a seed of its own) lies outside what our seeds explain: outside the
    95 % prediction interval of one more seed's accuracy given ours (mean ± t(0.975, k−1) ·
    std · √(1 + 1/k) over k seeds), widened by one test series for the split's resolution. On
    a method whose only randomness is its seed, such a gap points at the data. NaN where there
    is no reference or fewer than two seeds (no spread to judge by)."""
    acc = runs.groupby("dataset")["accuracy"]
    k = acc.count()
    n_test = runs.groupby("dataset")["n_test"].max().astype("float64")
    t = pd.Series(sst.t.ppf(0.975, (k - 1).clip(lower=1)), index=k.index)
    half = t * acc.std(ddof=1).fillna(0) * np.sqrt(1 + 1 / k) + (1 / n_test).fillna(0) + 1e-9
    ref = reference.reindex(k.index).astype("float64")
    outside = (ref - acc.mean()).abs() > half
    return outside.where(ref.notna() & (k >= 2)).reindex(reference.index)


def _dataset_protocol(runs: pd.DataFrame) -> str:
    """``""`` when every run of a dataset follows the paper's protocol and each model trained
    every cells count of the paper (or its runs are the released ones, which the table chose
    among every cells count); else how they depart from it."""
    parts = sorted({p for text in runs["protocol"] for p in text.split("; ") if p})
    for model, g in runs.groupby("model"):
        if is_baseline(model):  # no cells; its library's defaults (records.check_metric)
            continue
        cells = sorted(set(g["cells"]))
        if not g["released"].all() and not set(PAPER_CELLS) <= set(cells):
            trained = "/".join(map(str, cells))
            paper = "/".join(map(str, PAPER_CELLS))
            parts.append(f"{DISPLAY.get(model, model)} cells {trained} (the paper's {paper})")
    return "; ".join(dict.fromkeys(parts))


def papers_protocol(summ: pd.DataFrame) -> bool:
    """Whether every dataset of the table ran the paper's protocol (so Δ is a reproduction)."""
    return "protocol" not in summ.columns or bool((summ["protocol"].fillna("") == "").all())


def read_summary(path: Path) -> pd.DataFrame:
    """Read back a ``summary.csv`` written by :func:`lstmfcn_bench.aggregate.write_tables`."""
    df = pd.read_csv(path, index_col="dataset", keep_default_na=True)
    for col in df.columns:
        if col.endswith("_selected_cells") or col == "name_2015":
            df[col] = df[col].astype(object).where(df[col].notna(), None)
        elif col == "protocol":
            df[col] = df[col].astype(object).where(df[col].notna(), "")
    return df


def is_true(value: object) -> bool:
    """A flag column's cell is set (True, not False or missing, as summary.csv reads back)."""
    return isinstance(value, (bool, np.bool_)) and bool(value)


def _median_abs_points(diff: pd.Series) -> float:
    d = diff.dropna()
    return float(np.median(np.abs(d)) * 100) if len(d) else float("nan")


def headline(summ: pd.DataFrame) -> dict[str, dict]:
    """Bottom line per model, over the datasets that are in the paper.

    ``median_abs_diff_points`` and ``mean_diff_points``: selected − published in accuracy
    points (×100); ``n_datasets``; ``within_1_5_points``: how many datasets lie within 1.5
    points of the published value; ``mean_selected``/``mean_published``: mean accuracies over
    those datasets (the paper's 85-dataset means are 0.8427 / 0.8280). Where evaluation
    recorded them: ``flagged_runs`` (selected runs flagged as failed), the median |Δ| without
    them (``…_unflagged``, over ``n_datasets_unflagged``) and of the BN-recalibrated variant
    (``…_recalibrated``); for a baseline, ``outside_seeds``: the datasets where its reference
    lies outside our seeds' spread, of the ``n_judged`` that can be judged (two seeds or more,
    and a bake-off value).
    """
    out = {}
    for model in MODELS:
        col = f"{model}_diff"
        if col not in summ.columns:
            continue
        d = summ[col].dropna()
        n = int(len(d))
        out[model] = {
            "n_datasets": n,
            "median_abs_diff_points": _median_abs_points(d),
            "mean_diff_points": float(d.mean() * 100) if n else float("nan"),
            "within_1_5_points": int((d.abs() <= WITHIN + 1e-12).sum()),
            "mean_selected": float(summ.loc[d.index, f"{model}_selected_mean"].mean())
            if n
            else float("nan"),
            "mean_published": float(summ.loc[d.index, PUBLISHED_AS[model]].mean())
            if n
            else float("nan"),
        }
        if f"{model}_outside_seeds" in summ.columns:
            outside = summ[f"{model}_outside_seeds"]
            out[model]["outside_seeds"] = sorted(outside.index[outside.map(is_true)])
            out[model]["n_judged"] = int(outside.notna().sum())
        if f"{model}_flagged" in summ.columns:
            unflagged = summ[f"{model}_unflagged_diff"]
            out[model].update(
                flagged_runs=int(summ[f"{model}_flagged"].sum()),
                median_abs_diff_points_unflagged=_median_abs_points(unflagged),
                n_datasets_unflagged=int(unflagged.notna().sum()),
                median_abs_diff_points_recalibrated=_median_abs_points(
                    summ[f"{model}_recalibrated_diff"]
                ),
            )
    return out
