"""The committed reproduction: publishing records, refusing what is not the paper's protocol or
would overwrite a published run, rebuilding the table, and the README's generated block; and
the committed folder itself, which must equal what its records rebuild."""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest

from lstmfcn_bench import aggregate
from lstmfcn_bench.baselines import is_baseline
from lstmfcn_bench.cli import main
from lstmfcn_bench.errors import LstmfcnError
from lstmfcn_bench.results import publish, readme_block, records
from lstmfcn_bench.runs import Run
from lstmfcn_bench.training.config import TrainConfig

REPO = Path(__file__).resolve().parents[1]


def generated_block(readme: Path) -> str:
    """The generated block as it stands in ``readme``."""
    text = readme.read_text("utf-8")
    return text.split(readme_block.BEGIN, 1)[1].split(readme_block.END, 1)[0].removeprefix("\n")


COMMIT = "0123456789abcdef0123456789abcdef01234567"
TEXT_TABLES = ("accuracy.csv", "summary.csv", "summary.md", "stats.csv", "timing.csv", "today.csv")


#: Tiny real models (series of 10 steps, 2 classes), one per (model, cells, seed), built once.
_KEPT_MODELS: dict[tuple, Path] = {}


def kept_model(run: Run) -> Path:
    """A real kept model for ``run``: its weights differ from run to run, as trained ones do."""
    key = (run.model, run.cells, run.seed)
    if key not in _KEPT_MODELS:
        import keras

        from lstmfcn_bench.models.architecture import build_model

        keras.utils.set_random_seed(hash(key) % 2**31)
        folder = Path(tempfile.mkdtemp(prefix="kept-"))
        path = folder / f"{run.stem}.keras"
        build_model(run.model, 10, 2, cells=run.cells).save(path)
        _KEPT_MODELS[key] = path
    return _KEPT_MODELS[key]


def finished_run(results: Path, run: Run, accuracy: float, loss: float, **config) -> None:
    """The files a finished, evaluated run leaves in a workflow results tree."""
    config = {**asdict(TrainConfig()), "model": run.model, "cells": run.cells, **config}
    config["seed"] = run.seed
    epochs = config["epochs"]
    history = [
        {"epoch": e, "loss": 1.0 / e, "accuracy": min(1.0, 0.5 + e / 100), "lr": 1e-3}
        for e in range(1, epochs + 1)
    ]
    info = {
        "config": config,
        "dataset": run.dataset,
        "data_sha256": "ab" * 32,
        "best_epoch": epochs,
        "train_loss": loss,
        "train_accuracy": 1.0,
        "epochs_run": epochs,
        "seconds": 60.0,
        "engine": "keras",
        "backend": "tensorflow",
        "device": "cpu: test",
        "precision": "fp32",
        "versions": {"keras": "3"},
        "code": {"commit": COMMIT, "dirty": False},
    }
    metrics = {
        "dataset": run.dataset,
        "model": run.model,
        "cells": run.cells,
        "seed": run.seed,
        "test_accuracy": accuracy,
        "train_loss": loss,
        "train_accuracy": 1.0,
        "train_accuracy_inference": 1.0,
        "flags": [],
        "recalibrated": {"test_accuracy": accuracy, "train_accuracy_inference": 1.0},
        "best_epoch": epochs,
        "epochs_run": epochs,
        "train_seconds": 60.0,
        "eval_seconds": 0.5,
        "released": None,  # as evaluation says of a trained run (not a released file)
        "backend": "tensorflow",
        "device": "cpu: test",
        "versions": {"keras": "3"},
        "train_config": config,
    }
    for kind, text in (
        ("info", json.dumps(info)),
        ("metrics", json.dumps(metrics)),
        (
            "history",
            "epoch,loss,accuracy,lr,seconds\n"
            + "".join(
                f"{h['epoch']},{h['loss']},{h['accuracy']},{h['lr']},0.01\n" for h in history
            ),
        ),
    ):
        path = run.path(kind, results)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    shutil.copy(kept_model(run), run.path("model", results))


def grid(results: Path, datasets=("GunPoint", "ItalyPowerDemand"), seeds=(0, 1, 2), **config):
    """The paper's grid: both models × cells 8/64/128 × seeds."""
    for d in datasets:
        for m in ("lstmfcn", "alstmfcn"):
            for c in (8, 64, 128):
                for s in seeds:
                    loss = 0.01 * (1 + (c + s) % 3)
                    finished_run(results, Run(d, m, c, s), 0.95 - 0.01 * s, loss, **config)


def test_publish_copies_compact_records_with_their_provenance(tmp_path):
    grid(tmp_path / "results", datasets=("GunPoint",), seeds=(0,))
    out = publish.publish(tmp_path / "results", tmp_path / "repro")
    assert len(out["added"]) == 6 and out["dirty"] == []
    run = Run("GunPoint", "alstmfcn", 64, 0)
    record = json.loads(run.path("record", tmp_path / "repro").read_text())
    p = record["provenance"]
    assert p["paper_protocol"] and p["protocol_differences"] == []
    assert p["protocol"] == {
        "epochs": 2000,
        "cells": 64,
        "batch_size": 128,
        "plateau_patience": 100,
        "shuffle": True,
    }
    assert (p["seed"], p["engine"], p["precision"], p["commit"]) == (0, "keras", "fp32", COMMIT)
    assert record["train_info"]["data_sha256"] == "ab" * 32
    assert record["test_accuracy"] == 0.95
    # only the selected run's record names a released file; the others have no such key
    records = [json.loads(p.read_text()) for p in (tmp_path / "repro/runs/GunPoint").glob("*.json")]
    assert sorted(r["cells"] for r in records if "released" in r) == [64, 64]
    assert all(r["released"]["path"].startswith("weights/") for r in records if "released" in r)
    rows = list(csv.DictReader(run.path("record_history", tmp_path / "repro").open()))
    epochs = [int(r["epoch"]) for r in rows]
    assert epochs[:50] == list(range(1, 51)) and epochs[-1] == 2000 and 1990 in epochs
    assert len(rows) == 50 + 195 and list(rows[0]) == ["epoch", "loss", "accuracy", "lr"]
    # Publishing the same results again changes nothing.
    again = publish.publish(tmp_path / "results", tmp_path / "repro")
    assert again["added"] == [] and len(again["unchanged"]) == 6


def test_a_shortened_protocol_is_refused_naming_the_field_and_nothing_is_written(tmp_path):
    grid(tmp_path / "results", datasets=("GunPoint",), seeds=(0,))
    finished_run(tmp_path / "results", Run("ArrowHead", "lstmfcn", 8, 0), 0.8, 0.1, epochs=1000)
    with pytest.raises(LstmfcnError) as e:
        publish.publish(tmp_path / "results", tmp_path / "repro")
    assert "ArrowHead/lstmfcn_c8_s0: not the paper's protocol: epochs 1000 (the paper's 2000)" in (
        str(e.value)
    )
    assert not (tmp_path / "repro").exists()  # all or nothing
    out = publish.publish(tmp_path / "results", tmp_path / "repro", any_protocol=True)
    assert "ArrowHead/lstmfcn_c8_s0" in out["added"]
    record = json.loads(
        Run("ArrowHead", "lstmfcn", 8, 0).path("record", tmp_path / "repro").read_text()
    )
    assert record["provenance"]["paper_protocol"] is False


def other_cells(results: Path, run: Run) -> None:
    """The two other cells of ``run``'s seed: the selection unit the paper's table needs."""
    for cells in {8, 64, 128} - {run.cells}:
        finished_run(results, Run(run.dataset, run.model, cells, run.seed), 0.9, 0.5)


def test_a_rerun_replaces_its_record_only_when_told(tmp_path, capsys):
    run = Run("GunPoint", "lstmfcn", 8, 0)
    finished_run(tmp_path / "a", run, 0.95, 0.01)
    other_cells(tmp_path / "a", run)
    finished_run(tmp_path / "b", run, 0.90, 0.02)  # the same run, trained again elsewhere
    publish.publish(tmp_path / "a", tmp_path / "repro")
    args = ["publish", str(tmp_path / "b"), "--to", str(tmp_path / "repro")]
    assert main(args) == 2  # the CLI's status for a refused input
    err = capsys.readouterr().err
    assert "GunPoint/lstmfcn_c8_s0: already published with other results" in err
    assert "--replace" in err and "skip_published=reproduction" in err
    assert json.loads(run.path("record", tmp_path / "repro").read_text())["test_accuracy"] == 0.95
    assert main([*args, "--replace"]) == 0
    assert "replaced: 1 (GunPoint/lstmfcn_c8_s0)" in capsys.readouterr().out
    assert json.loads(run.path("record", tmp_path / "repro").read_text())["test_accuracy"] == 0.90


def test_a_record_from_a_dirty_tree_is_marked(tmp_path, capsys):
    run = Run("GunPoint", "lstmfcn", 8, 0)
    finished_run(tmp_path / "results", run, 0.95, 0.01)
    other_cells(tmp_path / "results", run)
    info_path = run.path("info", tmp_path / "results")
    info = json.loads(info_path.read_text())
    info["code"] = {"commit": COMMIT, "dirty": True}
    info_path.write_text(json.dumps(info))
    assert main(["publish", str(tmp_path / "results"), "--to", str(tmp_path / "repro")]) == 0
    assert "marked: GunPoint/lstmfcn_c8_s0 was trained from a tree with uncommitted" in (
        capsys.readouterr().out
    )
    record = json.loads(run.path("record", tmp_path / "repro").read_text())
    assert record["provenance"]["dirty_tree"] is True


def test_a_seed_whose_cells_have_not_all_finished_waits(tmp_path):
    run = Run("GunPoint", "lstmfcn", 8, 0)
    finished_run(tmp_path / "results", run, 0.95, 0.01)
    out = publish.publish(tmp_path / "results", tmp_path / "repro")
    assert out["waiting"] == ["GunPoint/lstmfcn_c8_s0"] and out["added"] == []
    other_cells(tmp_path / "results", run)
    out = publish.publish(tmp_path / "results", tmp_path / "repro")
    assert len(out["added"]) == 3 and out["waiting"] == []


def test_an_older_evaluation_or_missing_files_are_refused(tmp_path):
    run = Run("GunPoint", "lstmfcn", 8, 0)
    finished_run(tmp_path / "results", run, 0.95, 0.01)
    metrics_path = run.path("metrics", tmp_path / "results")
    metrics = json.loads(metrics_path.read_text())
    del metrics["flags"]
    metrics_path.write_text(json.dumps(metrics))
    with pytest.raises(LstmfcnError, match="lack flags .*rerun `lstmfcn evaluate`"):
        publish.publish(tmp_path / "results", tmp_path / "repro")
    metrics["flags"] = []
    metrics_path.write_text(json.dumps(metrics))
    run.path("info", tmp_path / "results").unlink()
    with pytest.raises(LstmfcnError, match="no run's _train.json at"):
        publish.publish(tmp_path / "results", tmp_path / "repro")
    with pytest.raises(LstmfcnError, match="no evaluated runs under"):
        publish.publish(tmp_path / "empty", tmp_path / "repro")


README = """# A project

Prose a person wrote.

## Reproduction status

{begin}
stale text
{end}

More prose.
"""


def test_aggregate_of_a_folder_builds_the_table_and_the_readme_block(tmp_path, capsys):
    grid(tmp_path / "results")
    publish.publish(tmp_path / "results", tmp_path / "repro")
    readme = tmp_path / "README.md"
    readme.write_text(README.format(begin=readme_block.BEGIN, end=readme_block.END))
    args = ["aggregate", str(tmp_path / "repro"), "--readme", str(readme)]
    assert main(args) == 0
    assert "status block rewritten" in capsys.readouterr().out
    table = tmp_path / "repro" / "table"
    for name in (*TEXT_TABLES, "summary.html", "scatter.png", "scatter.svg", "cd_diagram.png"):
        assert (table / name).is_file(), name
    text = readme.read_text()
    assert text.startswith("# A project\n\nProse a person wrote.") and "More prose." in text
    block = generated_block(readme)
    assert "stale text" not in block
    assert "**2 of the paper's 85**" in block and "seeds: 3 seeds on 2;" in block
    assert "Protocol: the paper's" in block and "| LSTM-FCN | 2 |" in block
    # 36 runs of 60 s each, from their provenance
    assert (
        "- Compute: 0.6 h of training (the jobs' wall times summed), on cpu: test, keras, fp32; "
        "records marked as trained from a tree with uncommitted changes: 0."
    ) in block
    # Beside today's methods, from the committed today.csv: ours and the references ranked.
    assert "Beside today's methods on the same 2 datasets" in block
    assert "| **LSTM-FCN (ours)** |" in block and "| HC2 | " in block and "| 0.8741 |" in block
    assert block == readme_block.status_block(tmp_path / "repro")
    before = {n: (table / n).read_bytes() for n in TEXT_TABLES}
    assert main(args) == 0  # a rerun on the same records: the same bytes, README untouched
    assert "already current" in capsys.readouterr().out
    assert {n: (table / n).read_bytes() for n in TEXT_TABLES} == before


def test_datasets_far_off_are_listed_with_their_reason(tmp_path):
    grid(tmp_path / "results", datasets=("GunPoint", "ArrowHead"), seeds=(0,))
    publish.publish(tmp_path / "results", tmp_path / "repro")
    (tmp_path / "repro" / "reasons.json").write_text(
        json.dumps({"ArrowHead": {"alstmfcn": "the published value is a lucky seed"}})
    )
    aggregate.build_table(tmp_path / "repro")
    block = readme_block.status_block(tmp_path / "repro")
    # GunPoint: 0.95 vs 1.0 published (−5 points); ArrowHead ALSTM-FCN 0.95 vs 0.82 (+12.7).
    assert "- GunPoint, LSTM-FCN: -5.00 points (reason not known yet)" in block
    assert "- ArrowHead, ALSTM-FCN: +12.71 points: the published value is a lucky seed" in block


def test_far_off_is_judged_at_the_printed_precision():
    # Car's LSTM-FCN: 54/60 against the published 0.95, -4.999...99 points in floating point.
    assert 0.9 - 0.95 > -0.05 and readme_block.far_off(0.9 - 0.95)
    assert readme_block.far_off(0.95 - 0.9) and readme_block.far_off(-0.05)
    assert not readme_block.far_off(0.9 - 0.94994) and not readme_block.far_off(0.0)


def test_a_readme_without_the_markers_is_an_error(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# no block\n")
    with pytest.raises(LstmfcnError, match="has no generated block"):
        readme_block.write_readme_block(readme, "x\n")


# --------------------------------------------------------------------------- the committed folder


def test_the_committed_table_is_what_its_records_rebuild(tmp_path):
    committed = REPO / "reproduction"
    copy = tmp_path / "reproduction"
    shutil.copytree(committed / "runs", copy / "runs")
    aggregate.build_table(copy)
    for name in TEXT_TABLES:
        rebuilt, kept = copy / "table" / name, committed / "table" / name
        stale = (
            f"reproduction/table/{name} is stale: run `lstmfcn aggregate reproduction/ "
            "--readme README.md`"
        )
        if name.endswith(".csv"):
            # Full-precision floats: NumPy versions may sum in another order (last digit).
            pd.testing.assert_frame_equal(
                pd.read_csv(rebuilt), pd.read_csv(kept), check_exact=False, rtol=1e-12, obj=stale
            )
        else:
            assert rebuilt.read_text() == kept.read_text(), stale


def test_the_readme_status_block_is_current():
    assert generated_block(REPO / "README.md") == readme_block.status_block(
        REPO / "reproduction"
    ), (
        "README's reproduction status is stale: run `lstmfcn aggregate reproduction/ --readme README.md`"
    )


def test_every_committed_record_is_the_papers_protocol_from_a_known_commit():
    for path in records.record_paths(REPO / "reproduction"):
        record = json.loads(path.read_text())
        p = record["provenance"]
        if is_baseline(record["model"]):  # its library's defaults: the paper's do not apply
            assert p["paper_protocol"] is None and p["protocol_differences"] == [], path
        else:
            assert p["paper_protocol"], (path, p["protocol_differences"])
        assert p["commit"] and len(p["commit"]) == 40 and p["dirty_tree"] is False, path


def test_the_committed_table_page_fits_1280_px_and_sorts_by_any_column(chromium):
    """In a 1280×800 browser the compact table fits the window (the detail table scrolls in
    its own box, so the page never does), and a click on a header sorts by that column."""
    from selenium.webdriver.common.by import By

    browser = chromium(1280, 800)
    browser.get((REPO / "reproduction/table/summary.html").as_uri())
    viewport = browser.execute_script("return document.documentElement.clientWidth")
    right = browser.execute_script(
        "return document.querySelector('table.summary').getBoundingClientRect().right"
    )
    assert right <= viewport <= 1280
    assert browser.execute_script("return document.documentElement.scrollWidth") <= viewport

    def column(name):
        headers = [
            th.text.strip(" ▲▼")
            for th in browser.find_elements(By.CSS_SELECTOR, "table.summary th")
        ]
        i = headers.index(name)
        cells = browser.find_elements(By.CSS_SELECTOR, f"table.summary tbody td:nth-child({i + 1})")
        return browser.find_elements(By.CSS_SELECTOR, "table.summary th")[i], [
            c.text for c in cells
        ]

    names_before = column("Dataset")[1]
    header, _ = column("LSTM-FCN Δ")
    header.click()
    values = [float(v) for v in column("LSTM-FCN Δ")[1] if v != "—"]
    assert values == sorted(values) and len(values) > 1
    column("LSTM-FCN Δ")[0].click()  # again: descending
    values = [float(v) for v in column("LSTM-FCN Δ")[1] if v != "—"]
    assert values == sorted(values, reverse=True)
    names = column("Dataset")[1]
    assert names != names_before and sorted(names) == sorted(names_before)  # rows moved whole
