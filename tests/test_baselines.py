"""A model of another library in the benchmark: MiniRocket (aeon) trained, evaluated, planned
and tabled as the Keras models are, and compared with the 2023 bake-off's published numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstmfcn_bench import baselines
from lstmfcn_bench.errors import ConfigError, LstmfcnError
from lstmfcn_bench.plan import make_plan
from lstmfcn_bench.results.records import REQUIRED_KEYS, check_metric
from lstmfcn_bench.results.reference import bakeoff_table
from lstmfcn_bench.results.render import headline_text
from lstmfcn_bench.results.summary import summary
from lstmfcn_bench.runs import Run, run_of, stem
from lstmfcn_bench.training.baseline import build, load_baseline

PREPARED = ["GunPoint"]
CLI = [sys.executable, "-m", "lstmfcn_bench.cli"]


def test_a_baseline_run_is_named_without_cells():
    assert stem("minirocket", 0, 2) == "minirocket_s2"
    run = Run("GunPoint", "minirocket", 0, 2)
    assert run.path("model").name == "minirocket_s2.joblib"
    assert run.path("metrics").name == "minirocket_s2.json"
    assert run_of(Path("x/GunPoint/minirocket_s2_train.json")) == run
    assert run_of(Path("x/GunPoint/lstmfcn_c8_s0.keras")) == Run("GunPoint", "lstmfcn", 8, 0)
    for wrong in ("lstmfcn_s0.json", "minirocket_c8_s0.json"):
        with pytest.raises(ValueError, match="is not named after a run"):
            run_of(Path("GunPoint") / wrong)


def test_the_plan_gives_a_baseline_one_run_per_seed_and_no_figures():
    plan = make_plan({"preset": "demo", "models": ["lstmfcn", "minirocket"], "seeds": [0, 1]})
    mini = [r for r in plan.runs if r.model == "minirocket"]
    assert {(r.cells, r.seed) for r in mini} == {(0, 0), (0, 1)}
    assert len(mini) == 2 * len(plan.datasets)
    assert {m for _, m in plan.figure_runs()} == {"lstmfcn"}
    assert "minirocket (aeon's defaults; the paper's epochs and cells do not apply" in (
        plan.protocol_line()
    )
    only = make_plan({"preset": "demo", "models": ["minirocket"]})
    assert only.protocol_line().startswith("not the paper's models: minirocket (aeon's defaults)")
    assert "epochs" not in only.protocol_line().split("(the paper's")[0]


def _metric(dataset: str, model: str, cells: int, seed: int, acc: float, loss) -> dict:
    metric = {k: None for k in REQUIRED_KEYS}
    metric.update(
        dataset=dataset, model=model, cells=cells, seed=seed, test_accuracy=acc,
        train_loss=loss, n_test=100, flags=[], train_config={"model": model},
    )  # fmt: skip
    return metric


def test_a_baseline_metric_has_cells_0_and_no_loss():
    row = check_metric(_metric("GunPoint", "minirocket", 0, 0, 0.99, None), "m.json")
    assert row["cells"] == 0 and np.isnan(row["train_loss"]) and row["protocol"] == ""
    with pytest.raises(LstmfcnError, match="cells \\(0 for minirocket"):
        check_metric(_metric("GunPoint", "minirocket", 8, 0, 0.99, None), "m.json")
    with pytest.raises(LstmfcnError, match="train_loss"):
        check_metric(_metric("GunPoint", "lstmfcn", 8, 0, 0.99, None), "m.json")


def test_the_table_compares_a_baseline_with_the_bake_off():
    bake = bakeoff_table().loc[["GunPoint", "Coffee"], "MiniROCKET"]
    rows = [
        check_metric(_metric(d, "minirocket", 0, s, float(bake[d]) + delta, None), "m.json")
        for d in ("GunPoint", "Coffee")
        for s, delta in ((0, 0.0), (1, -0.02))
    ]
    summ = summary(pd.DataFrame(rows))
    assert "minirocket_c0_mean" not in summ.columns  # no cells to show
    assert summ.loc["GunPoint", "MiniROCKET (bake-off)"] == pytest.approx(bake["GunPoint"])
    assert summ.loc["GunPoint", "minirocket_diff"] == pytest.approx(-0.01)
    text = headline_text(summ)
    assert text.startswith("MiniRocket: aeon's defaults (the paper's epochs and cells do not")
    assert "the paper's (2000 epochs" not in text and "vs the bake-off" in text


def test_a_missing_library_is_one_clear_error(monkeypatch):
    def missing(seed, threads):
        raise ImportError("No module named 'aeon'")

    fake = baselines.Baseline("minirocket", "MiniRocket", "aeon", "minirocket", missing)
    monkeypatch.setitem(baselines.BASELINES, "minirocket", fake)
    with pytest.raises(ConfigError, match=r"pip install 'lstmfcn-bench\[minirocket\]'"):
        build("minirocket", 0, 1)


@pytest.mark.slow
def test_minirocket_trains_and_evaluates_as_the_bake_off_reports(data_root, tmp_path):
    """Two seeds on GunPoint: its saved classifier, its _train.json, and metrics from the one
    evaluation code, within a point of the bake-off's MiniROCKET on the same split."""
    out = tmp_path / "models" / "GunPoint"
    done = subprocess.run(
        [*CLI, "train", "GunPoint", "--model", "minirocket", "--seed", "0", "1",
         "--threads", "1", "--root", str(data_root), "--out", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "the paper's epochs and cells do not apply" in done.stdout
    info = json.loads((out / "minirocket_s1_train.json").read_text())
    assert info["config"]["seed"] == 1 and info["config"]["cells"] == 0
    assert info["config"]["hyperparameters"]["n_kernels"] == 10_000
    assert info["config"]["hyperparameters"]["random_state"] == 1
    assert "aeon" in info["versions"] and info["train_accuracy"] == 1.0
    reference = float(bakeoff_table().loc["GunPoint", "MiniROCKET"])
    for seed in (0, 1):
        metrics_path = tmp_path / f"minirocket_s{seed}.json"
        done = subprocess.run(
            [*CLI, "evaluate", str(out / f"minirocket_s{seed}.joblib"), "--dataset", "GunPoint",
             "--root", str(data_root), "--threads", "1", "--out", str(metrics_path)],
            capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        metrics = json.loads(metrics_path.read_text())
        row = check_metric(metrics, str(metrics_path))
        assert (row["model"], row["cells"], row["seed"]) == ("minirocket", 0, seed)
        assert metrics["flags"] == [] and metrics["recalibrated"] is None
        assert sum(np.diag(metrics["confusion_matrix"])) == round(150 * row["accuracy"])
        assert abs(row["accuracy"] - reference) <= 0.01, (seed, row["accuracy"], reference)


def test_a_missing_or_corrupt_baseline_file_is_one_clear_error(tmp_path):
    with pytest.raises(LstmfcnError, match="no checkpoint at"):
        load_baseline(tmp_path / "minirocket_s0.joblib")
    corrupt = tmp_path / "minirocket_s1.joblib"
    corrupt.write_bytes(b"\x80\x04not a pickle at all")
    with pytest.raises(LstmfcnError, match="is not a baseline's joblib file"):
        load_baseline(corrupt)
