"""The aggregate stage, the one writer of table files: every run's metrics (or a reproduction
folder's records) → the results table, the statistics with their critical-difference diagram,
and the compute table (rule aggregate, `lstmfcn aggregate`).

Every file is written atomically and holds no timestamp, so a rerun on the same metrics gives
identical bytes: ``accuracy.csv`` (one row per run), ``summary.csv`` (one row per dataset),
``summary.html``, ``summary.md``, ``stats.csv``, ``stats.html``, ``cd_diagram.png``/``.svg``,
``timing.csv``, ``timing.html``, ``today.csv``, ``today.html``, ``today_cd.png``/``.svg`` (and
``scatter.png`` for a reproduction folder).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .atomic import atomic_write_text
from .errors import LstmfcnError
from .figures.cd_diagram import cd_figure, cd_matrix_figure
from .figures.style import save_figure
from .results.records import ROOT, accuracy_long, checked_record_paths, load_metrics, table_dir
from .results.render import render_html, render_markdown
from .results.stats import compare, render_stats_html
from .results.summary import summary
from .results.timing import timing_html, timing_table
from .results.today import compare_today, rank_matrix, render_today_html, today_table


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


def write_statistics(summary: pd.DataFrame, out_dir: Path) -> pd.DataFrame:
    """stats.csv, stats.html, cd_diagram.png and .svg; returns the statistics table."""
    out_dir = Path(out_dir)
    png, _ = save_figure(cd_figure(summary), out_dir / "cd_diagram.png", tight=True)
    table = compare(summary)
    atomic_write_text(out_dir / "stats.csv", _csv(table, index=False))
    atomic_write_text(out_dir / "stats.html", render_stats_html(table, summary, png.read_bytes()))
    return table


def write_today(summary: pd.DataFrame, out_dir: Path) -> pd.DataFrame:
    """today.csv, today.html, today_cd.png and .svg: ours beside the 2023 bake-off."""
    out_dir = Path(out_dir)
    comparison = compare_today(summary)
    png, _ = save_figure(
        cd_matrix_figure(rank_matrix(comparison)), out_dir / "today_cd.png", tight=True
    )
    table = today_table(comparison)
    atomic_write_text(out_dir / "today.csv", _csv(table, index=True))
    atomic_write_text(
        out_dir / "today.html", render_today_html(comparison, summary, png.read_bytes())
    )
    return table


def write_timing(metrics: list[dict], out_dir: Path, benchmarks: Sequence[Path] = ()) -> None:
    """timing.csv and timing.html: compute per run."""
    table = timing_table(metrics, benchmarks)
    atomic_write_text(Path(out_dir) / "timing.csv", _csv(table, index=False))
    released = bool(metrics) and all(m.get("released") for m in metrics)
    atomic_write_text(Path(out_dir) / "timing.html", timing_html(table, released))


def aggregate(
    metrics_paths: Sequence[Path], out_dir: Path, benchmarks: Sequence[Path] = ()
) -> pd.DataFrame:
    """Write every table of ``out_dir`` from the runs' metrics files; returns the summary."""
    summary = write_tables(metrics_paths, out_dir)
    write_statistics(summary, out_dir)
    write_today(summary, out_dir)
    write_timing(load_metrics(metrics_paths)[0], out_dir, benchmarks)
    return summary


def build_table(root: Path = ROOT, out: Path | None = None) -> pd.DataFrame:
    """Rebuild the table of a reproduction folder from its records: every file of
    :func:`aggregate` plus the accuracy scatter; returns the summary. Every record is checked
    before the first file is written."""
    from .figures.scatter import scatter_figure

    out = Path(out) if out else table_dir(root)
    summary = aggregate(checked_record_paths(root), out)
    save_figure(scatter_figure(out / "summary.csv"), out / "scatter.png")
    return summary
