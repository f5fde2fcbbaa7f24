"""A model of another library in the benchmark: MiniRocket (aeon) trained, evaluated, planned
and tabled as the Keras models are, and compared with the 2023 bake-off's published numbers."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstmfcn_bench import baselines
from lstmfcn_bench.cli import main
from lstmfcn_bench.errors import ConfigError, LstmfcnError
from lstmfcn_bench.plan import make_plan
from lstmfcn_bench.results import readme_block
from lstmfcn_bench.results.publish import publish
from lstmfcn_bench.results.records import REQUIRED_KEYS, check_metric, published_datasets
from lstmfcn_bench.results.reference import bakeoff_table
from lstmfcn_bench.results.render import headline_text, render_html, seeds_text
from lstmfcn_bench.results.summary import headline, summary
from lstmfcn_bench.results.today import compare_today, coverage_text
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

    fake = baselines.Baseline(
        "minirocket", "MiniRocket", "aeon", "minirocket", missing, lambda c, t: None
    )
    monkeypatch.setitem(baselines.BASELINES, "minirocket", fake)
    with pytest.raises(ConfigError, match=r"pip install 'lstmfcn-bench\[minirocket\]'"):
        build("minirocket", 0, 1)


@pytest.fixture(scope="module")
def minirocket_results(data_root, tmp_path_factory) -> Path:
    """A results tree with two real MiniRocket runs on GunPoint (seeds 0, 1): trained and
    evaluated by the CLI, laid out as the workflow lays them out."""
    results = tmp_path_factory.mktemp("results")
    out = results / "models" / "GunPoint"
    done = subprocess.run(
        [*CLI, "train", "GunPoint", "--model", "minirocket", "--seed", "0", "1",
         "--threads", "1", "--root", str(data_root), "--out", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "the paper's epochs and cells do not apply" in done.stdout
    for seed in (0, 1):
        done = subprocess.run(
            [*CLI, "evaluate", str(out / f"minirocket_s{seed}.joblib"), "--dataset", "GunPoint",
             "--root", str(data_root), "--threads", "1",
             "--out", str(Run("GunPoint", "minirocket", 0, seed).path("metrics", results))],
            capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    return results


@pytest.mark.slow
def test_a_baseline_predicts_with_the_evaluating_jobs_threads(
    minirocket_results, data_root, monkeypatch
):
    """Trained with one thread, evaluated with --threads 2 (or all CPUs): its transform runs
    with the evaluating job's threads, not the number saved in its file."""
    from aeon.transformations.collection.convolution_based import _minirocket

    from lstmfcn_bench.data.dataset import load
    from lstmfcn_bench.results.evaluation import evaluate

    asked = []

    def recorded(n):
        asked.append(n)
        real(n)

    real = _minirocket.set_num_threads
    monkeypatch.setattr(_minirocket, "set_num_threads", recorded)
    model = minirocket_results / "models" / "GunPoint" / "minirocket_s0.joblib"
    dataset = load("GunPoint", data_root)
    usable = len(os.sched_getaffinity(0))  # numba's limit (os.cpu_count may say more)
    for threads, expected in ((2, min(2, usable)), (None, usable), (usable + 1, usable)):
        asked.clear()
        metrics = evaluate(model, dataset, threads=threads)
        assert asked[0] == expected  # then aeon restores numba's own number
        assert metrics["train_config"]["threads"] == 1


@pytest.mark.slow
def test_minirocket_trains_and_evaluates_as_the_bake_off_reports(minirocket_results):
    """Two seeds on GunPoint: its saved classifier, its _train.json, and metrics from the one
    evaluation code, within a point of the bake-off's MiniROCKET on the same split."""
    out = minirocket_results / "models" / "GunPoint"
    info = json.loads((out / "minirocket_s1_train.json").read_text())
    assert info["config"]["seed"] == 1 and info["config"]["cells"] == 0
    assert info["config"]["hyperparameters"]["n_kernels"] == 10_000
    assert info["config"]["hyperparameters"]["random_state"] == 1
    assert "aeon" in info["versions"] and info["train_accuracy"] == 1.0
    reference = float(bakeoff_table().loc["GunPoint", "MiniROCKET"])
    for seed in (0, 1):
        metrics_path = Run("GunPoint", "minirocket", 0, seed).path("metrics", minirocket_results)
        metrics = json.loads(metrics_path.read_text())
        row = check_metric(metrics, str(metrics_path))
        assert (row["model"], row["cells"], row["seed"]) == ("minirocket", 0, seed)
        assert metrics["flags"] == [] and metrics["recalibrated"] is None
        assert sum(np.diag(metrics["confusion_matrix"])) == round(150 * row["accuracy"])
        assert abs(row["accuracy"] - reference) <= 0.01, (seed, row["accuracy"], reference)


@pytest.mark.slow
def test_minirocket_runs_are_published_and_tabled_beside_the_reproduction(
    minirocket_results, tmp_path
):
    """Published as the Keras runs are (all or nothing, under the lock), but with no history
    and no released file: the record names the joblib file's sha256 and aeon's defaults."""
    to = tmp_path / "reproduction"
    (to / "runs").mkdir(parents=True)
    outcome = publish(minirocket_results, to)
    assert sorted(outcome["added"]) == ["GunPoint/minirocket_s0", "GunPoint/minirocket_s1"]
    assert outcome["waiting"] == []  # a baseline's seed needs no other cells
    folder = to / "runs" / "GunPoint"
    assert sorted(p.name for p in folder.iterdir()) == ["minirocket_s0.json", "minirocket_s1.json"]
    assert not (to / "weights").exists()  # a baseline retrains in seconds: nothing released
    record = json.loads((folder / "minirocket_s0.json").read_text())
    model = Run("GunPoint", "minirocket", 0, 0).path("model", minirocket_results)
    assert record["kept_model_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert "kept_weights_sha256" not in record
    prov = record["provenance"]
    assert prov["paper_protocol"] is None and prov["protocol_differences"] == []
    assert prov["protocol"]["n_kernels"] == 10_000 and prov["engine"] == "aeon"
    assert publish(minirocket_results, to)["unchanged"] == outcome["added"]  # a rerun of publish

    plan_runs = [Run("GunPoint", "minirocket", 0, s) for s in (0, 1)]
    train = {"GunPoint": {"epochs": 2000, "batch_size": 128, "patience": 100, "shuffle": True}}
    assert published_datasets(plan_runs, train, to) == {"GunPoint"}  # no epochs to match

    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{readme_block.BEGIN}\nold\n{readme_block.END}\n")
    assert main(["aggregate", str(to), "--readme", str(readme)]) == 0
    summ = pd.read_csv(to / "table" / "summary.csv", index_col="dataset")
    assert summ.loc["GunPoint", "minirocket_n_seeds"] == 2
    assert summ.loc["GunPoint", "n_seeds"] == 2  # only a baseline here: its seeds are the table's
    said = "MiniRocket (aeon's defaults, trained here on the same data): 1 dataset (2 seeds on 1)"
    block = readme.read_text()
    assert said in block
    # baselines alone reproduce nothing of the paper: no dataset covered, no protocol claimed
    assert "Datasets covered: **0 of the paper's 85**; not covered yet: 85" in block
    assert "Protocol: no LSTM-FCN or ALSTM-FCN run yet: the records hold baselines only." in block


def _baseline_rows(accuracies: dict[str, list[float]], n_test: int = 50) -> list[dict]:
    rows = []
    for dataset, values in accuracies.items():
        for seed, acc in enumerate(values):
            metric = _metric(dataset, "minirocket", 0, seed, acc, None)
            rows.append(check_metric({**metric, "n_test": n_test}, "m.json"))
    return rows


def test_a_bake_off_value_outside_what_seeds_explain_is_flagged():
    """Outside means beyond the 95 % prediction interval of one more seed given ours, widened
    by one test series (the split's resolution); one seed has no spread to judge by."""
    bake = bakeoff_table()["MiniROCKET"]
    one = 1 / 50
    b = {d: float(bake[d]) for d in ("GunPoint", "Coffee", "ArrowHead", "ECG200", "Plane")}
    rows = _baseline_rows(
        {
            "GunPoint": [b["GunPoint"] - 0.005, b["GunPoint"] + 0.005],  # around it
            "Coffee": [b["Coffee"] - one, b["Coffee"] - one],  # one series off, no spread
            "ArrowHead": [b["ArrowHead"] - 2 * one] * 3,  # two series off, no spread
            # 3 seeds, std 0.01: 4.30 x 0.01 x 1.155 + 0.02 = 0.0697 around their mean
            "Plane": [b["Plane"] - 0.06, b["Plane"] - 0.07, b["Plane"] - 0.08],
            "ECG200": [b["ECG200"] - 5 * one],  # one seed: not judged
            "Chinatown": [0.9, 0.95],  # not in the bake-off's 85: not judged
        }
    )
    summ = summary(pd.DataFrame(rows))
    flags = summ["minirocket_outside_seeds"]
    assert flags.drop(["ECG200", "Chinatown"]).to_dict() == {
        "ArrowHead": True, "Coffee": False, "GunPoint": False, "Plane": True,
    }  # fmt: skip
    assert np.isnan(flags["ECG200"]) and np.isnan(flags["Chinatown"])
    text = headline_text(summ)
    said = "outside what our seeds explain on 2 of the 4 datasets that can be judged"
    assert f"{said} (two seeds or more and a bake-off value): ArrowHead, Plane" in text
    assert headline(summ)["minirocket"]["n_judged"] == 4
    html = render_html(summ)
    assert html.count(">outside seeds<") == 2


def test_seeds_are_counted_per_reproduced_model_and_per_baseline():
    """A baseline on more datasets and seeds than LSTM-FCN does not change LSTM-FCN's count."""
    rows = _baseline_rows({"GunPoint": [0.99] * 3, "Coffee": [1.0] * 3, "ECG200": [0.9] * 3})
    rows += [
        check_metric(_metric(d, "lstmfcn", c, 0, 0.97, 0.01 * c), "m.json")
        for d in ("GunPoint", "Coffee")
        for c in (8, 64, 128)
    ]
    summ = summary(pd.DataFrame(rows))
    assert summ["n_seeds"].to_dict() == {"Coffee": 1, "ECG200": 0, "GunPoint": 1}
    assert summ["minirocket_n_seeds"].to_dict() == {"Coffee": 3, "ECG200": 3, "GunPoint": 3}
    assert seeds_text(summ) == "2 datasets (1 seed on 2); MiniRocket: 3 datasets (3 seeds on 3)."
    rows_html = render_html(summ).split("<tbody>", 1)[1]
    assert '<td class="name">ECG200</td><td class="num">—</td>' in rows_html
    today = compare_today(summ)  # the reproduction's datasets, with MiniRocket (ours) beside
    assert list(today.accuracy.index) == ["Coffee", "GunPoint"]
    assert "MiniRocket (ours)" in today.accuracy.columns and "ECG200" not in today.left_out


def test_a_baseline_lacking_a_reproduced_dataset_is_left_out_as_a_column_not_the_dataset():
    """The reproduction's datasets decide what today's comparison covers."""
    rows = _baseline_rows({"GunPoint": [0.99, 0.98]})  # MiniRocket: no run on Coffee
    rows += [
        check_metric(_metric(d, "lstmfcn", c, 0, 0.97, 0.01 * c), "m.json")
        for d in ("GunPoint", "Coffee")
        for c in (8, 64, 128)
    ]
    today = compare_today(summary(pd.DataFrame(rows)))
    assert list(today.accuracy.index) == ["Coffee", "GunPoint"] and today.left_out == {}
    assert "MiniRocket (ours)" not in today.accuracy.columns
    assert today.methods_left_out == {"MiniRocket (ours)": "no run on Coffee"}
    assert "Not compared: MiniRocket (ours) (no run on Coffee)." in coverage_text(today)
    # a dataset left out anyway (no ALSTM-FCN there) costs MiniRocket nothing
    rows += [
        check_metric(_metric("GunPoint", "alstmfcn", c, 0, 0.96, 0.01 * c), "m.json")
        for c in (8, 64, 128)
    ]
    uneven = compare_today(summary(pd.DataFrame(rows)))
    assert list(uneven.accuracy.index) == ["GunPoint"] and "Coffee" in uneven.left_out
    assert "MiniRocket (ours)" in uneven.accuracy.columns and uneven.methods_left_out == {}


def test_a_local_source_narrows_a_preset_to_the_datasets_it_holds(tmp_path):
    source = tmp_path / "ucr"
    for name in ("GunPoint", "Coffee"):
        (source / name).mkdir(parents=True)
        for split in ("TRAIN", "TEST"):
            (source / name / f"{name}_{split}.tsv").write_text("1\t0.1\t0.2\n")
    plan = make_plan({"preset": "ucr85", "models": ["minirocket"], "source": str(source)})
    assert sorted(plan.datasets) == ["Coffee", "GunPoint"]
    assert plan.source_note().startswith(
        f"source {source} holds 2 of the ucr85 preset's 85 datasets; not planned: Adiac,"
    )
    budget = make_plan({"preset": "ucr85", "source": str(source), "budget_hours": 0.5})
    assert budget.source_note() == plan.source_note()  # the source's count, not the budget's
    named = make_plan({"preset": "ucr85", "datasets": ["FaceFour"], "source": str(source)})
    assert named.datasets == ["FaceFour"] and named.source_note() is None  # a name is kept
    with pytest.raises(ConfigError, match="holds none of the ucr85 datasets"):
        make_plan({"preset": "ucr85", "source": str(tmp_path)})


def test_a_missing_or_corrupt_baseline_file_is_one_clear_error(tmp_path):
    with pytest.raises(LstmfcnError, match="no checkpoint at"):
        load_baseline(tmp_path / "minirocket_s0.joblib")
    corrupt = tmp_path / "minirocket_s1.joblib"
    corrupt.write_bytes(b"\x80\x04not a pickle at all")
    with pytest.raises(LstmfcnError, match="is not a baseline's joblib file"):
        load_baseline(corrupt)
