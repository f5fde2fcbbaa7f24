"""Compute cost per run: training time, seconds per epoch, memory (from Snakemake's
`benchmark:` files when present), so the report shows where the time went."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..runs import Run, runs_of

COLUMNS = [
    "dataset",
    "model",
    "cells",
    "seed",
    "epochs_run",
    "train_seconds",
    "seconds_per_epoch_median",
    "eval_seconds",
    "max_rss_mb",
    "device",
]


def timing_table(metrics: list[dict], benchmarks: Sequence[Path] = ()) -> pd.DataFrame:
    """One row per run; ``benchmarks``: the training jobs' benchmark files (named after runs)."""
    # A training group's benchmark file holds the one job that trained all its seeds.
    by_run = {run: Path(p) for p in benchmarks for run in runs_of(p)}
    rows = []
    for m in metrics:
        row = {k: m.get(k) for k in COLUMNS}
        tsv = by_run.get(Run(m["dataset"], m["model"], m["cells"], m["seed"]))
        row["max_rss_mb"] = float(pd.read_csv(tsv, sep="\t")["max_rss"].max()) if tsv else None
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["dataset", "model", "cells", "seed"])


def timing_html(table: pd.DataFrame, released: bool = False) -> str:
    """A standalone page of the compute table (``timing_table``'s rows); ``released``: the
    runs are released models evaluated here, whose training times are their records'."""
    total_h = table["train_seconds"].fillna(0).sum() / 3600
    if released:
        what = (
            f"<p><b>Compute per run, from the records of released models.</b> Nothing was "
            f"trained here: the {len(table)} runs' {total_h:.2f} h of training are what their "
            "records state, on the device each names; only the evaluation seconds were spent "
            "here. Seconds per epoch is the median over the run's epochs.</p>"
        )
    else:
        what = (
            f"<p><b>Compute per run.</b> {len(table)} runs, {total_h:.2f} h of training in all. "
            "Seconds per epoch is the median over the run's epochs; memory is the peak resident "
            "size of the training job (Snakemake benchmark).</p>"
        )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Compute</title>"
        "<style>body{font-family:sans-serif;font-size:13px}td,th{padding:2px 8px}"
        "td{text-align:right}</style></head><body>"
        + what
        + table.to_html(
            index=False, float_format=lambda v: f"{v:.3f}", na_rep="", escape=True, border=0
        )
        + "</body></html>\n"
    )
