"""The aggregate stage: every run's metrics → the results table, the statistics with their
critical-difference diagram, and the compute table (rule aggregate, `lstmfcn aggregate`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .figures.cd_diagram import cd_figure
from .figures.style import save_figure
from .results.stats import write_stats
from .results.tables import load_metrics, write_tables
from .results.timing import write_timing


def write_statistics(summary: pd.DataFrame, out_dir: Path) -> pd.DataFrame:
    """stats.csv, stats.html, cd_diagram.png and .svg; returns the statistics table."""
    png, _ = save_figure(cd_figure(summary), Path(out_dir) / "cd_diagram.png", tight=True)
    return write_stats(summary, out_dir, png.read_bytes())


def aggregate(
    metrics_paths: Sequence[Path], out_dir: Path, benchmarks: Sequence[Path] = ()
) -> pd.DataFrame:
    """Write every table of ``out_dir`` from the runs' metrics files; returns the summary."""
    summary = write_tables(metrics_paths, out_dir)
    write_statistics(summary, out_dir)
    write_timing(load_metrics(metrics_paths)[0], out_dir, benchmarks)
    return summary
