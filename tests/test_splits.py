"""The paper's split: which datasets the 2018 archive exchanged (checked against the published
table's own numbers), and runs that train and test the paper's way round."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from lstmfcn_bench.cli import _as_the_run_saw_it, main
from lstmfcn_bench.data import registry, splits
from lstmfcn_bench.data.dataset import load
from lstmfcn_bench.errors import ConfigError
from lstmfcn_bench.results.reference import published_table
from lstmfcn_bench.training.config import TrainConfig, protocol_differences

PREPARED = ("ItalyPowerDemand",)


def _whole_number_of(accuracy: float, n: int) -> bool:
    """Whether a published accuracy (5 decimals or fewer) is k/n for a whole k."""
    return abs(round(accuracy * n) / n - accuracy) < 6e-6


def test_the_exchanged_datasets_are_those_whose_published_accuracies_count_training_series():
    """The published LSTM-FCN and ALSTM-FCN accuracies say on which series the paper tested:
    whole numbers of the 2018 training split exactly for the 14, of the test split for the
    other 71."""
    pub = published_table()
    assert len(pub) == 85
    on_train, on_test = set(), set()
    for name, row in pub.iterrows():
        info = registry.registry()[name]
        fits = [
            (_whole_number_of(row[m], info.n_train), _whole_number_of(row[m], info.n_test))
            for m in ("LSTM-FCN", "ALSTM-FCN")
        ]
        if all(train and not test for train, test in fits):
            on_train.add(name)
        elif all(test for _, test in fits):
            on_test.add(name)
    assert on_train == splits.EXCHANGED_SINCE_2015
    assert len(on_test) == 85 - 14


def test_oriented_exchanges_the_splits_only_for_the_paper_split_of_an_exchanged_dataset():
    def dataset(name):
        from lstmfcn_bench.data.dataset import Dataset

        a, b = np.zeros((3, 5), np.float32), np.ones((7, 5), np.float32)
        meta = {"n_train": 3, "n_test": 7, "data_sha256": "abc", "n_classes": 2}
        return Dataset(
            name, a, np.zeros(3, int), b, np.ones(7, int), np.full(3, 5), np.full(7, 5), meta
        )

    worms = splits.oriented(dataset("Worms"), splits.PAPER)
    assert worms.X_train.shape == (7, 5) and worms.y_train.tolist() == [1] * 7
    assert worms.X_test.shape == (3, 5) and worms.lengths_test.tolist() == [5] * 3
    assert (worms.meta["n_train"], worms.meta["n_test"], worms.meta["exchanged"]) == (7, 3, True)
    as_is = dataset("Worms")
    assert splits.oriented(as_is, splits.ARCHIVE) is as_is
    other = dataset("GunPoint")
    assert splits.oriented(other, splits.PAPER) is other
    # a run of one split never resumes from a state of the other
    assert splits.data_identity(worms) != splits.data_identity(as_is)
    assert splits.data_identity(other) == "abc"  # as before splits existed
    assert splits.sizes(181, 77, "Worms", splits.PAPER) == (77, 181)
    assert splits.sizes(50, 150, "GunPoint", splits.PAPER) == (50, 150)
    with pytest.raises(ConfigError, match="unknown split '2016'"):
        TrainConfig(split="2016").validate()


def test_the_split_is_protocol_only_where_the_archive_exchanged_it():
    paper = asdict(TrainConfig())
    assert paper["split"] == splits.PAPER
    older = {k: v for k, v in paper.items() if k != "split"}  # recorded before: the files as is
    assert protocol_differences(older, "GunPoint") == []
    assert protocol_differences(paper, "Worms") == []
    assert protocol_differences(older, "Worms") == [
        "split '2018' (the paper's '2015': train and test exchanged)"
    ]
    assert protocol_differences({**paper, "split": "2018"}, "DistalPhalanxTW") != []
    # the split reaches the resume identity through the data it names, not the config
    assert TrainConfig(split="2018").fingerprint("d") == TrainConfig().fingerprint("d")


@pytest.fixture
def worms_root(tmp_path, data_root):
    """ItalyPowerDemand's prepared files under an exchanged dataset's name (67 training and
    1029 test series, so a run's sizes say which way round it trained)."""
    root = tmp_path / "data"
    shutil.copytree(data_root / "ItalyPowerDemand", root / "Worms")
    meta_path = root / "Worms" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "name": "Worms"}))
    return root


@pytest.mark.parametrize("split, trained, tested", [("2015", 1029, 67), ("2018", 67, 1029)])
def test_train_and_evaluate_follow_the_runs_split(
    tmp_path, worms_root, capsys, split, trained, tested
):
    out = tmp_path / "runs"
    args = ["--epochs", "2", "--threads", "1", "--log-every", "0", "--root", str(worms_root)]
    assert main(["train", "Worms", "--out", str(out), "--split", split, *args]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert f"on Worms: {trained} series" in line
    assert ("the paper's split" in line) == (split == "2015")
    info = json.loads((out / "lstmfcn_c8_s0_train.json").read_text())
    assert info["config"]["split"] == split
    metrics = tmp_path / "metrics.json"
    root = ["--root", str(worms_root)]
    model = str(out / "lstmfcn_c8_s0.keras")
    assert main(["evaluate", model, "--dataset", "Worms", *root, "--out", str(metrics)]) == 0
    m = json.loads(metrics.read_text())
    assert m["n_test"] == tested
    assert sum(map(sum, m["confusion_matrix"])) == tested
    assert len(load("Worms", worms_root).y_test) == 1029  # the prepared files stay as they are
    # a figure's "train" series are the ones the run trained on
    seen = _as_the_run_saw_it(load("Worms", worms_root), out / "lstmfcn_c8_s0.keras")
    assert (len(seen.y_train), len(seen.y_test)) == (trained, tested)
    # ... and a released file's, as its record says
    released = tmp_path / "repro" / "weights" / "Worms" / "lstmfcn_c8_s0.keras"
    released.parent.mkdir(parents=True)
    shutil.copy(out / "lstmfcn_c8_s0.keras", released)
    record = tmp_path / "repro" / "runs" / "Worms" / "lstmfcn_c8_s0.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"train_config": info["config"]}))
    seen = _as_the_run_saw_it(load("Worms", worms_root), released)
    assert (len(seen.y_train), len(seen.y_test)) == (trained, tested)
    # ... and a copy that neither says is refused rather than drawn on a guessed split
    stray = tmp_path / "copied" / "lstmfcn_c8_s0.keras"
    stray.parent.mkdir()
    shutil.copy(released, stray)
    with pytest.raises(ConfigError, match="which of Worms's splits it trained on is unknown"):
        _as_the_run_saw_it(load("Worms", worms_root), stray)


def test_the_dataset_list_marks_the_exchanged_datasets(capsys):
    assert main(["datasets", "--preset", "ucr85"]) == 0
    lines = capsys.readouterr().out.splitlines()
    marked = {line.split()[0] for line in lines if line.endswith(" *")}
    assert marked == splits.EXCHANGED_SINCE_2015
    assert lines[-2].startswith("* the paper's split (the 2015 archive's) is this one exchanged")


def test_a_plan_refuses_dataset_statistics_where_the_papers_split_tests_their_series():
    from lstmfcn_bench.plan import make_plan

    with pytest.raises(ConfigError, match="config key 'normalise': .* for Worms: use normalise"):
        make_plan({"datasets": ["GunPoint", "Worms"], "normalise": "dataset"})
    assert make_plan({"datasets": ["GunPoint"], "normalise": "dataset"}).datasets == ["GunPoint"]
    baseline = make_plan({"datasets": ["Worms"], "normalise": "dataset", "models": ["minirocket"]})
    assert baseline.datasets == ["Worms"]  # trains on the archive's split, whose statistics


def test_a_baselines_training_line_says_it_trains_on_the_archives_split():
    from lstmfcn_bench.cli import _archive_split

    assert "the archive's training split" in _archive_split("Worms")
    assert _archive_split("GunPoint") == ""  # one split only: nothing to say


def test_a_run_of_one_split_does_not_resume_from_the_other(tmp_path, worms_root):
    from lstmfcn_bench.training.lifecycle import start
    from lstmfcn_bench.training.protocol import class_weights

    files = load("Worms", worms_root)
    archive, path, said = TrainConfig(split="2018"), tmp_path / "lstmfcn_c8_s0.keras", []
    weights = class_weights(files.y_train, files.n_classes)
    model, state, _ = start(files, archive, path, weights, said.append)  # a state of the files
    state.next_epoch = 1
    state.save(path.with_name("lstmfcn_c8_s0.resume.npz"), model)
    _, _, resumed = start(files, archive, path, weights, said.append)
    assert resumed == 1 and "resuming" in said[-1]
    paper = splits.oriented(files, splits.PAPER)
    _, _, resumed = start(paper, TrainConfig(), path, weights, said.append)
    assert resumed is None and "belongs to another configuration" in said[-1]


def test_a_run_refuses_data_oriented_for_another_split_than_it_records(tmp_path, worms_root):
    """Python's train() on the archive's Worms with the default (paper's) split would record
    the paper's split, and evaluation, orienting by the record, would test on the training
    series: refused before anything is built or written."""
    from lstmfcn_bench.training import train

    files = load("Worms", worms_root)
    path = tmp_path / "run" / "lstmfcn_c8_s0.keras"
    with pytest.raises(ConfigError, match="records split 2015 but is given the data as split 2018"):
        train(files, TrainConfig(epochs=1), path)
    paper = splits.oriented(files, splits.PAPER)
    with pytest.raises(ConfigError, match="records split 2018 but is given the data as split 2015"):
        train(paper, TrainConfig(epochs=1, split="2018"), path)
    assert not any((tmp_path / "run").rglob("*"))


def test_today_leaves_out_the_exchanged_datasets():
    from lstmfcn_bench.results.today import SPLIT_NOTE, compare_today

    summary = pd.DataFrame(
        {"lstmfcn_selected_mean": [0.9, 0.7], "alstmfcn_selected_mean": [0.9, 0.7]},
        index=pd.Index(["GunPoint", "DistalPhalanxTW"], name="dataset"),
    )
    comparison = compare_today(summary)
    assert list(comparison.accuracy.index) == ["GunPoint"]
    assert comparison.left_out == {"DistalPhalanxTW": SPLIT_NOTE}


def test_skip_published_trains_again_the_archive_split_where_the_papers_differs(tmp_path):
    """Records of Worms trained on the archive's files (before runs recorded a split) are not
    the paper's split there: a campaign plans Worms again; GunPoint's stand."""
    from lstmfcn_bench.plan import make_plan

    config = {"datasets": ["Worms", "GunPoint"], "seeds": [0]}
    plan = make_plan(config)
    (tmp_path / "runs").mkdir()

    def record(split: str | None) -> None:
        for run in plan.runs:
            planned = plan.train[run.dataset]
            config = {
                "epochs": planned["epochs"],
                "batch_size": planned["batch_size"],
                "plateau_patience": planned["patience"],
                "shuffle": planned["shuffle"],
                "seed": run.seed,
                **({"split": split} if split else {}),
            }
            path = run.path("record", tmp_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"train_config": config}))

    record(None)
    assert make_plan({**config, "skip_published": str(tmp_path)}).datasets == ["Worms"]
    record(splits.PAPER)
    with pytest.raises(ConfigError, match="already holds every"):
        make_plan({**config, "skip_published": str(tmp_path)})


def test_publish_refuses_a_run_of_the_archive_split_where_the_papers_differs(tmp_path):
    from test_reproduction import grid

    from lstmfcn_bench.errors import LstmfcnError
    from lstmfcn_bench.results import publish

    grid(tmp_path / "a", datasets=("Worms",), seeds=(0,), split="2018")
    with pytest.raises(
        LstmfcnError, match=r"Worms/lstmfcn_c8_s0: not the paper's protocol: split '2018'"
    ):
        publish.publish(tmp_path / "a", tmp_path / "repro")
    assert not (tmp_path / "repro").exists()
    grid(tmp_path / "b", datasets=("Worms", "GunPoint"), seeds=(0,))  # the paper's split
    assert len(publish.publish(tmp_path / "b", tmp_path / "repro")["added"]) == 12
    # the table marks the dataset whose split is exchanged, and says what that means
    assert main(["aggregate", str(tmp_path / "repro")]) == 0
    table = (tmp_path / "repro" / "table" / "summary.md").read_text()
    assert "| Worms † |" in table and "| GunPoint |" in table
    assert "† The 2018 archive exchanged these datasets' train and test" in table


def test_load_ucr_gives_either_archives_train_and_test(worms_root):
    from lstmfcn_bench import load_ucr

    X, _ = load_ucr("Worms", "train", root=worms_root, progress=False)
    assert len(X) == 67  # the files as they are
    X, _ = load_ucr("Worms", "train", root=worms_root, progress=False, archive="2015")
    assert len(X) == 1029
    with pytest.raises(ValueError, match="archive must be one of 2015, 2018"):
        load_ucr("Worms", root=worms_root, archive="2016")


def test_the_paper_split_refuses_dataset_statistics_from_its_test_series(worms_root):
    meta_path = worms_root / "Worms" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "normalise": "dataset"}))
    files = load("Worms", worms_root)
    with pytest.raises(ConfigError, match="normalise=dataset, whose statistics come from"):
        splits.oriented(files, splits.PAPER)
    assert splits.oriented(files, splits.ARCHIVE) is files


def test_the_train_rule_flags_the_split_only_where_it_differs():
    """The train rules' per-dataset flags (their `shuffle` placeholder): --split 2015 written
    out on the 14, so that their runs recorded before it are stale to Snakemake; the others'
    flags, and so their recorded params, as they were."""
    from lstmfcn_bench.plan import make_plan

    plan = make_plan({"datasets": ["Worms", "GunPoint"], "seeds": [0]})
    assert plan.train_flags("GunPoint") == ""
    assert plan.train_flags("Worms") == "--split 2015"
    off = make_plan({"datasets": ["Worms", "GunPoint"], "seeds": [0], "shuffle": False})
    assert (off.train_flags("GunPoint"), off.train_flags("Worms")) == (
        "--no-shuffle",
        "--no-shuffle --split 2015",
    )
