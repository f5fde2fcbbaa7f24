"""The released weights (reproduction/weights/): every released model, evaluated here, gives
exactly the test accuracy its record states, and holds the weights its record names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lstmfcn_bench.atomic import sha256_file
from lstmfcn_bench.data.dataset import load, prepare
from lstmfcn_bench.results.evaluation import evaluate
from lstmfcn_bench.results.weights import RELEASED_SEEDS, WEIGHTS, weights_digest
from lstmfcn_bench.runs import run_of

REPO = Path(__file__).resolve().parents[1]
RECORDS = REPO / "reproduction"
SHARED = REPO.parent / "shared" / "ucr2018"  # the reproduction's source, beside the checkout
DEMO = {p.stem for p in (REPO / "src/lstmfcn_bench/resources/demo").glob("*.zip")}
RELEASED = sorted((RECORDS / WEIGHTS).glob("*/*.keras"))


def record_of(path: Path) -> tuple[Path, dict]:
    run = run_of(path)
    record = run.path("record", RECORDS)
    return record, json.loads(record.read_text())


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    cache = tmp_path_factory.mktemp("cache")
    for name in sorted({p.parent.name for p in RELEASED}):
        source = None if name in DEMO else SHARED
        prepare(name, root, source=source, cache_dir=cache, progress=False)
    return root


def test_there_are_released_models():
    assert RELEASED, "reproduction/weights/ holds no released model"


@pytest.mark.parametrize("path", RELEASED, ids=[f"{p.parent.name}/{p.stem}" for p in RELEASED])
def test_a_released_model_gives_the_accuracy_of_its_record(path, prepared):
    record_path, record = record_of(path)
    released = record["released"]
    assert released["path"] == path.relative_to(RECORDS).as_posix()
    assert sha256_file(path) == released["sha256"]
    assert weights_digest(path) == record["kept_weights_sha256"]
    metrics = evaluate(path, load(record["dataset"], prepared), info_path=record_path)
    n = record["n_test"]
    assert metrics["n_test"] == n
    assert round(metrics["test_accuracy"] * n) == round(record["test_accuracy"] * n)
    assert metrics["confusion_matrix"] == record["confusion_matrix"]
    assert metrics["flags"] == record["flags"]


def test_a_record_of_another_run_is_refused(prepared):
    from lstmfcn_bench.errors import LstmfcnError

    path = RELEASED[0]
    record_path, record = record_of(path)
    other = next(p for p in sorted(record_path.parent.glob("*.json")) if p != record_path)
    with pytest.raises(LstmfcnError, match="does not hold the weights"):
        evaluate(path, load(record["dataset"], prepared), info_path=other)


def test_each_selected_run_with_kept_weights_is_released():
    """Per dataset, model and released seed: the run of least training loss (fewer cells on a
    tie), as the table selects, is released whenever its record names its kept weights."""
    groups: dict[tuple, list[dict]] = {}
    for path in sorted(RECORDS.glob("runs/*/*.json")):
        r = json.loads(path.read_text())
        if r["seed"] in RELEASED_SEEDS:
            groups.setdefault((r["dataset"], r["model"], r["seed"]), []).append(r)
    for key, records in groups.items():
        chosen = min(records, key=lambda r: (r["train_loss"], r["cells"]))
        others = [r for r in records if r is not chosen]
        assert not any("released" in r for r in others), key
        if "kept_weights_sha256" in chosen:
            assert "released" in chosen, f"{key}: selected c{chosen['cells']} is not released"


@pytest.mark.parametrize("dataset", sorted({p.parent.name for p in RELEASED}))
def test_from_released_is_a_fitted_classifier_scoring_as_its_record(dataset, tmp_path):
    from lstmfcn_bench import ALSTMFCNClassifier, LSTMFCNClassifier, load_ucr

    source = None if dataset in DEMO else SHARED
    for cls in (LSTMFCNClassifier, ALSTMFCNClassifier):
        est = cls.from_released(dataset, seed=0, records=RECORDS)
        # its test series: the paper's split, or the archive's for a run recorded before
        X, y = load_ucr(
            dataset, "test", root=tmp_path, source=source, progress=False, archive=est.split_
        )
        source = None  # prepared once
        record = json.loads(
            (RECORDS / "runs" / dataset / f"{est._model_name()}_c{est.cells}_s0.json").read_text()
        )
        assert record["released"] and est.n_features_in_ == X.shape[1]
        assert est.score(X, y) == pytest.approx(record["test_accuracy"], abs=1e-12)
    with pytest.raises(ValueError, match="no released lstmfcn model of"):
        LSTMFCNClassifier.from_released(dataset, seed=7, records=RECORDS)


def test_a_released_classifier_saved_and_loaded_keeps_its_split(tmp_path):
    from lstmfcn_bench import LSTMFCNClassifier

    est = LSTMFCNClassifier.from_released("DistalPhalanxTW", seed=0, records=RECORDS)
    assert est.split_ == "2015"  # the paper's: the archive's test file is its training split
    loaded = LSTMFCNClassifier.load(est.save(tmp_path / "m.keras"))
    assert loaded.split_ == "2015" and loaded.train_info_ == est.train_info_
    # refitted here, it is no longer the released run: no split_ said or saved
    X, y = np.random.default_rng(0).normal(size=(20, 30)), np.repeat([0, 1], 10)
    loaded.set_params(epochs=1).fit(X, y)
    assert not hasattr(loaded, "split_")
    assert not hasattr(LSTMFCNClassifier.load(loaded.save(tmp_path / "r.keras")), "split_")
