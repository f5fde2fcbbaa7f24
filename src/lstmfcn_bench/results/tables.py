"""The results table: per-run metrics → one row per dataset, next to the published numbers.

Selection rule (the paper's, leak-free): for every dataset, model and seed, the run kept is
the one among the trained cells (8, 64, 128) whose checkpoint reached the *lowest training
loss*; ties go to the fewer cells. Test accuracy is never used to choose. The selected runs'
test accuracies are then averaged over seeds (mean ± sample standard deviation, ``ddof=1``;
the std is NaN when there is a single seed — one run has no spread to report).

Outputs of :func:`write_tables` (all written atomically, no timestamps, so a rerun on the same
metrics gives identical bytes): ``accuracy.csv`` (one row per run), ``summary.csv`` (one row
per dataset), ``summary.html`` (standalone, coloured differences) and ``summary.md``.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_write_text
from ..data.registry import canonical_name
from ..errors import LstmfcnError, UnknownDatasetError
from ..runs import DISPLAY, MODELS, PUBLISHED_AS
from ..training.config import PAPER_CELLS, protocol_differences
from .published import published_methods, published_table

#: Keys every metrics file must have (values may be null only for the descriptive ones).
REQUIRED_KEYS: tuple[str, ...] = (
    "dataset",
    "model",
    "cells",
    "seed",
    "test_accuracy",
    "train_loss",
    "train_accuracy",
    "best_epoch",
    "epochs_run",
    "train_seconds",
    "backend",
    "device",
)
#: Columns of accuracy.csv: the same, test accuracy called ``accuracy``, then what evaluation
#: adds when it has it: inference-mode accuracy on the training split, the failure flags
#: ("never_learned", "inference_collapse", joined by "+"; "" for none), the BN-recalibrated
#: variant's test accuracy, and how the run's protocol departs from the paper's ("" if not).
EXTRA_COLUMNS: list[str] = ["train_accuracy_inference", "flags", "recalibrated_accuracy", "protocol"]
LONG_COLUMNS: list[str] = [
    *("accuracy" if k == "test_accuracy" else k for k in REQUIRED_KEYS),
    *EXTRA_COLUMNS,
]
RUN_KEY = ["dataset", "model", "cells", "seed"]

#: |selected − published| at or below this (accuracy units) counts as "reproduced".
WITHIN = 0.015


# --------------------------------------------------------------------------- metrics input


def _is_int(v: object) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool)


def _is_real(v: object) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(float(v))


def _check(metric: object, source: str) -> dict:
    """Validate one metrics dict; return the row of the long table. Errors name ``source``."""
    if not isinstance(metric, dict):
        raise LstmfcnError(f"{source}: a metrics file must hold a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in metric]
    if missing:
        raise LstmfcnError(f"{source}: metrics file lacks key(s) {', '.join(missing)}")
    bad = []
    if not isinstance(metric["dataset"], str) or not metric["dataset"]:
        bad.append("dataset (a non-empty name)")
    if metric["model"] not in MODELS:
        bad.append(f"model (one of {', '.join(MODELS)}, got {metric['model']!r})")
    if not _is_int(metric["cells"]) or metric["cells"] < 1:
        bad.append(f"cells (a positive integer, got {metric['cells']!r})")
    if not _is_int(metric["seed"]):
        bad.append(f"seed (an integer, got {metric['seed']!r})")
    acc = metric["test_accuracy"]
    if not _is_real(acc) or not 0.0 <= float(acc) <= 1.0:
        bad.append(f"test_accuracy (a number in [0, 1], got {acc!r})")
    if not _is_real(metric["train_loss"]):
        bad.append(f"train_loss (a finite number, got {metric['train_loss']!r})")
    if bad:
        raise LstmfcnError(f"{source}: bad value for {'; '.join(bad)}")
    try:
        dataset = canonical_name(metric["dataset"])
    except UnknownDatasetError:
        dataset = metric["dataset"]  # not a UCR name: kept as is (no published numbers)
    row = {k: metric[k] for k in REQUIRED_KEYS}
    row["dataset"] = dataset
    row["accuracy"] = float(row.pop("test_accuracy"))
    row["train_loss"] = float(row["train_loss"])
    row["cells"] = int(row["cells"])
    row["seed"] = int(row["seed"])
    flags = metric.get("flags")
    config = metric.get("train_config")
    row.update(
        train_accuracy_inference=metric.get("train_accuracy_inference"),
        flags="+".join(flags) if flags else "",
        recalibrated_accuracy=(metric.get("recalibrated") or {}).get("test_accuracy"),
        protocol="; ".join(protocol_differences(config)) if config else "not recorded",
    )
    return row


def load_metrics(paths: Iterable[Path]) -> tuple[list[dict], list[str]]:
    """Read metrics JSON files; return the dicts and their sources (file names) in order."""
    metrics, sources = [], []
    for p in paths:
        p = Path(p)
        try:
            metrics.append(json.loads(p.read_text("utf-8")))
        except OSError as e:
            raise LstmfcnError(f"{p}: cannot read metrics file ({e.strerror or e})") from e
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise LstmfcnError(f"{p}: not valid JSON ({e})") from e
        sources.append(str(p))
    return metrics, sources


def accuracy_long(metrics: Sequence[dict], sources: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per run, sorted by dataset, model, cells, seed.

    ``sources`` (e.g. file names, parallel to ``metrics``) are used in error messages; a
    missing key, a bad value or two runs with the same (dataset, model, cells, seed) raise
    :class:`LstmfcnError` naming them.
    """
    if sources is None:
        sources = [f"metrics[{i}]" for i in range(len(metrics))]
    if len(sources) != len(metrics):
        raise LstmfcnError("accuracy_long: sources and metrics differ in length")
    rows, seen = [], {}
    for m, src in zip(metrics, sources, strict=True):
        row = _check(m, src)
        key = tuple(row[k] for k in RUN_KEY)
        if key in seen:
            raise LstmfcnError(
                f"duplicate run dataset={key[0]} model={key[1]} cells={key[2]} seed={key[3]}: "
                f"{seen[key]} and {src}"
            )
        seen[key] = src
        rows.append(row)
    df = pd.DataFrame(rows, columns=LONG_COLUMNS)
    numeric = ("accuracy", "train_loss", "train_accuracy", "train_seconds")
    for col in (*numeric, "train_accuracy_inference", "recalibrated_accuracy"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    for col in ("best_epoch", "epochs_run"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    df["cells"] = df["cells"].astype("int64")
    df["seed"] = df["seed"].astype("int64")
    return df.sort_values(RUN_KEY, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- summary


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
    published, accuracy units; NaN where the dataset is not in the paper); then ``n_seeds``,
    ``name_2015`` and the published accuracy columns (LSTM-FCN, ALSTM-FCN, baselines).
    Standard deviations use ddof=1 and are NaN for a single seed.
    """
    if long.empty:
        raise LstmfcnError("no runs to summarise (no metrics files?)")
    pub = published_table()
    datasets = sorted(long["dataset"].unique())
    models = [m for m in MODELS if m in set(long["model"])]
    selected = select_runs(long)
    out = pd.DataFrame(index=pd.Index(datasets, name="dataset"))
    for model in models:
        runs = long[long["model"] == model]
        for cells in sorted(runs["cells"].unique()):
            grp = runs[runs["cells"] == cells].groupby("dataset")["accuracy"]
            out[f"{model}_c{cells}_mean"] = grp.mean()
            out[f"{model}_c{cells}_std"] = grp.agg(lambda a: _std(a.to_numpy()))
        sel = selected[selected["model"] == model].groupby("dataset")
        out[f"{model}_selected_mean"] = sel["accuracy"].mean()
        out[f"{model}_selected_std"] = sel["accuracy"].agg(lambda a: _std(a.to_numpy()))
        cells_str = sel["cells"].agg(lambda c: "/".join(str(int(x)) for x in c))
        out[f"{model}_selected_cells"] = cells_str.astype(object).reindex(out.index)
        published = pub[PUBLISHED_AS[model]].reindex(out.index)
        out[f"{model}_diff"] = out[f"{model}_selected_mean"] - published
        flagged = selected[(selected["model"] == model) & (selected["flags"] != "")]
        out[f"{model}_flagged"] = (
            flagged.groupby("dataset").size().reindex(out.index).fillna(0).astype("int64")
        )
        unflagged = selected[(selected["model"] == model) & (selected["flags"] == "")]
        out[f"{model}_unflagged_mean"] = unflagged.groupby("dataset")["accuracy"].mean()
        out[f"{model}_unflagged_diff"] = out[f"{model}_unflagged_mean"] - published
        out[f"{model}_recalibrated_mean"] = sel["recalibrated_accuracy"].mean()
        out[f"{model}_recalibrated_diff"] = out[f"{model}_recalibrated_mean"] - published
    out["n_seeds"] = long.groupby("dataset")["seed"].nunique().reindex(out.index).astype("int64")
    out["protocol"] = pd.Series(
        {d: _dataset_protocol(g) for d, g in long.groupby("dataset")}, dtype=object
    ).reindex(out.index)
    out["name_2015"] = pub["name_2015"].reindex(out.index).astype(object)
    for col in published_methods():
        out[col] = pub[col].reindex(out.index).astype("float64")
    return out


def _dataset_protocol(runs: pd.DataFrame) -> str:
    """``""`` when every run of a dataset follows the paper's protocol and each model trained
    every cells count of the paper; else how they depart from it."""
    parts = sorted({p for text in runs["protocol"] for p in text.split("; ") if p})
    for model, g in runs.groupby("model"):
        cells = sorted(set(g["cells"]))
        if not set(PAPER_CELLS) <= set(cells):
            trained = "/".join(map(str, cells))
            parts.append(f"{model} cells {trained} (the paper's {'/'.join(map(str, PAPER_CELLS))})")
    return "; ".join(dict.fromkeys(parts))


def papers_protocol(summ: pd.DataFrame) -> bool:
    """Whether every dataset of the table ran the paper's protocol (so Δ is a reproduction)."""
    return "protocol" not in summ.columns or bool((summ["protocol"].fillna("") == "").all())


def read_summary(path: Path) -> pd.DataFrame:
    """Read back a ``summary.csv`` written by :func:`write_tables`."""
    df = pd.read_csv(path, index_col="dataset", keep_default_na=True)
    for col in df.columns:
        if col.endswith("_selected_cells") or col == "name_2015":
            df[col] = df[col].astype(object).where(df[col].notna(), None)
        elif col == "protocol":
            df[col] = df[col].astype(object).where(df[col].notna(), "")
    return df


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
    (``…_recalibrated``).
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


# --------------------------------------------------------------------------- rendering

SELECTION_RULE = (
    "Selected: for each seed, the cells whose run reached the lowest training loss at the kept "
    "(minimum-training-loss) checkpoint, ties to fewer cells; test accuracy is never used to "
    "choose. Mean ± sample std (ddof=1) over seeds; cells chosen listed per seed. "
    "Δ = selected mean − published, in accuracy points."
)


def protocol_text(summ: pd.DataFrame) -> str:
    """Which protocol the table shows, in one sentence."""
    if papers_protocol(summ):
        return (
            "Protocol: the paper's (2000 epochs, cells 8/64/128 chosen by training loss, "
            "batch 128, Adam with the plateau schedule on the training loss)."
        )
    parts = sorted({p for text in summ["protocol"] for p in str(text).split("; ") if p})
    return (
        f"Not the paper's protocol ({'; '.join(parts)}): Δ compares another protocol with the "
        "published numbers, so it is not coloured as a reproduction."
    )


def _headline_text(summ: pd.DataFrame) -> str:
    parts = []
    for model, h in headline(summ).items():
        if h["n_datasets"] == 0:
            parts.append(f"{DISPLAY[model]}: no dataset of the paper")
            continue
        text = (
            f"{DISPLAY[model]}: median |Δ| {h['median_abs_diff_points']:.2f} points, "
            f"mean Δ {h['mean_diff_points']:+.2f} points, "
            f"{h['within_1_5_points']}/{h['n_datasets']} datasets within 1.5 points "
            f"(mean accuracy {h['mean_selected']:.4f} vs published {h['mean_published']:.4f})"
        )
        if h.get("flagged_runs"):
            text += (
                f"; {h['flagged_runs']} selected run(s) flagged as failed, without them median "
                f"|Δ| {h['median_abs_diff_points_unflagged']:.2f} points over "
                f"{h['n_datasets_unflagged']} datasets"
            )
        if not math.isnan(h.get("median_abs_diff_points_recalibrated", math.nan)):
            text += (
                f"; BN-recalibrated variant median |Δ| "
                f"{h['median_abs_diff_points_recalibrated']:.2f} points"
            )
        parts.append(text)
    return protocol_text(summ) + " " + "; ".join(parts) + "."


def _fmt_acc(v: object) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{float(v):.4f}"


def _fmt_mean_std(mean: object, std: object) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{float(mean):.4f}"
    return f"{float(mean):.4f} ± {float(std):.4f}"


def _fmt_diff(v: object) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{float(v) * 100:+.2f}"


def _diff_class(v: object) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "na"
    if abs(float(v)) <= WITHIN + 1e-12:
        return "within"
    return "better" if float(v) > 0 else "worse"


def _cells_of(summ: pd.DataFrame, model: str) -> list[int]:
    prefix, suffix = f"{model}_c", "_mean"
    found = []
    for c in summ.columns:
        if c.startswith(prefix) and c.endswith(suffix):
            mid = c[len(prefix) : -len(suffix)]
            if mid.isdigit():
                found.append(int(mid))
    return sorted(found)


def _display_rows(summ: pd.DataFrame) -> tuple[list[str], list[list[tuple[str, str]]]]:
    """Header and rows of (text, css class) cells shared by the HTML and Markdown renderings."""
    models = [m for m in MODELS if f"{m}_selected_mean" in summ.columns]
    header = ["Dataset"]
    for m in models:
        name = DISPLAY[m]
        header += [f"{name} c{c}" for c in _cells_of(summ, m)]
        header += [f"{name} selected", f"{name} cells", f"{name} published", f"{name} Δ"]
        header += [f"{name} flagged", f"{name} BN-recalibrated"]
    coloured = papers_protocol(summ)
    baselines = [c for c in published_methods() if c not in set(PUBLISHED_AS.values())]
    header += ["seeds"] + baselines
    rows = []
    for ds, r in summ.iterrows():
        cells: list[tuple[str, str]] = [(str(ds), "name")]
        for m in models:
            for c in _cells_of(summ, m):
                cells.append((_fmt_mean_std(r[f"{m}_c{c}_mean"], r[f"{m}_c{c}_std"]), "num"))
            cells.append(
                (_fmt_mean_std(r[f"{m}_selected_mean"], r[f"{m}_selected_std"]), "num sel")
            )
            sc = r[f"{m}_selected_cells"]
            cells.append((str(sc) if isinstance(sc, str) else "—", "cells"))
            cells.append((_fmt_acc(r.get(PUBLISHED_AS[m])), "num"))
            d = r[f"{m}_diff"]
            cells.append((_fmt_diff(d), f"num diff {_diff_class(d) if coloured else 'na'}"))
            flagged = r.get(f"{m}_flagged")
            cells.append((f"{int(flagged)}" if flagged else "—", "num"))
            cells.append((_fmt_acc(r.get(f"{m}_recalibrated_mean")), "num"))
        cells.append((str(int(r["n_seeds"])), "num"))
        cells += [(_fmt_acc(r.get(b)), "num") for b in baselines]
        rows.append(cells)
    return header, rows


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5em; }
table { border-collapse: collapse; font-size: 0.85em; }
caption { caption-side: top; text-align: left; padding: 0.5em 0; max-width: 80em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; }
th { background: #f0f0f0; position: sticky; top: 0; }
td.num, td.cells { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.sel { font-weight: 600; }
td.within { background: #e3f2e1; }
td.better { background: #c8e6c9; color: #1b5e20; }
td.worse { background: #ffcdd2; color: #b71c1c; }
tr:nth-child(even) td.name { background: #fafafa; }
span.legend { padding: 0 0.4em; }
"""


def render_html(summ: pd.DataFrame) -> str:
    """A standalone HTML page holding the results table (no timestamps)."""
    header, rows = _display_rows(summ)
    e = html.escape
    caption = (
        f"<b>Test accuracy per dataset.</b> {e(SELECTION_RULE)} "
        f"Δ colour: <span class='legend' style='background:#e3f2e1'>|Δ| ≤ 1.5</span>"
        f"<span class='legend' style='background:#c8e6c9'>above published</span>"
        f"<span class='legend' style='background:#ffcdd2'>below published</span>. "
        f"Published columns: the authors' leak-free rerun; FCN is the column headed CNN in "
        f"their table. <br><b>Headline:</b> {e(_headline_text(summ))}"
    )
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        "<title>LSTM-FCN / ALSTM-FCN results</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        '<table class="summary">',
        f"<caption>{caption}</caption>",
        "<thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr></thead>",
        "<tbody>",
    ]
    for cells in rows:
        tds = "".join(f'<td class="{cls}">{e(text)}</td>' for text, cls in cells)
        out.append(f"<tr>{tds}</tr>")
    out += ["</tbody>", "</table>", "</body>", "</html>", ""]
    return "\n".join(out)


def flagged_runs(long: pd.DataFrame) -> list[str]:
    """One Markdown line per run that evaluation flagged as failed, selected or not."""
    out = []
    for _, r in long[long["flags"] != ""].iterrows():
        recal = r["recalibrated_accuracy"]
        out.append(
            f"- {r['dataset']} {DISPLAY.get(r['model'], r['model'])} c{r['cells']} seed "
            f"{r['seed']}: {r['flags']} (test {r['accuracy']:.4f}; training split "
            f"{_fmt_acc(r['train_accuracy'])} in training mode, "
            f"{_fmt_acc(r['train_accuracy_inference'])} in inference mode; BN-recalibrated "
            f"test {_fmt_acc(recal)})"
        )
    return out


def render_markdown(summ: pd.DataFrame, long: pd.DataFrame | None = None) -> str:
    """The results table as GitHub-flavoured Markdown, with the rule and headline above it
    and, given the runs (``long``), the list of runs flagged as failed below it."""
    header, rows = _display_rows(summ)

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    align = ["---"] + ["---:"] * (len(header) - 1)
    out = [
        "# Test accuracy per dataset",
        "",
        SELECTION_RULE,
        "",
        f"**Headline:** {_headline_text(summ)}",
        "",
        line(header),
        "| " + " | ".join(align) + " |",
    ]
    out += [line([t for t, _ in cells]) for cells in rows]
    if long is not None:
        flagged = flagged_runs(long)
        out += ["", f"**Runs flagged as failed:** {len(flagged) or 'none'}", "", *flagged]
    return "\n".join(out) + "\n"


def _csv(df: pd.DataFrame, index: bool) -> str:
    return df.to_csv(index=index, lineterminator="\n")


def write_tables(metrics_paths: Sequence[Path], out_dir: Path) -> pd.DataFrame:
    """Write accuracy.csv, summary.csv, summary.html and summary.md; return the summary."""
    metrics_paths = [Path(p) for p in metrics_paths]
    if not metrics_paths:
        raise LstmfcnError("no metrics files given to build the results table")
    metrics, sources = load_metrics(metrics_paths)
    long = accuracy_long(metrics, sources)
    summ = summary(long)
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "accuracy.csv", _csv(long, index=False))
    atomic_write_text(out_dir / "summary.csv", _csv(summ, index=True))
    atomic_write_text(out_dir / "summary.html", render_html(summ))
    atomic_write_text(out_dir / "summary.md", render_markdown(summ, long))
    return summ
