"""Faults and bad input at the training and evaluation edges, for real: each gives one clear
line and an exit status, and leaves no half-written output and no silent wrong answer."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from lstmfcn_bench.cli import main
from lstmfcn_bench.data.dataset import load, prepare
from lstmfcn_bench.errors import LstmfcnError
from lstmfcn_bench.models.checkpoint import load_checkpoint
from lstmfcn_bench.runs import beside_model
from lstmfcn_bench.training import TrainConfig, train

EPOCHS = 6
CONFIG = TrainConfig(epochs=EPOCHS, checkpoint_every=2, seed=1)
#: What the data_root fixture (conftest.py) prepares for this module.
PREPARED = ("ItalyPowerDemand",)


@pytest.fixture(scope="module")
def fresh_history(data_root, tmp_path_factory) -> list[dict]:
    """An uninterrupted run of CONFIG: what starting over must reproduce."""
    out = tmp_path_factory.mktemp("fresh") / "lstmfcn_c8_s1.keras"
    return train(load("ItalyPowerDemand", data_root), CONFIG, out, log_every=0).history


class Stop(Exception):
    pass


def stopped_run(data_root: Path, model: Path, after: int) -> Path:
    """Train until epoch ``after`` is logged, then stop as a crash would: returns the resume
    state left by the last checkpoint before it."""

    def log(message: str) -> None:
        if message.startswith(f"epoch {after}/"):
            raise Stop

    with pytest.raises(Stop):
        train(load("ItalyPowerDemand", data_root), CONFIG, model, log=log)
    resume = beside_model(model, "resume")
    assert resume.exists() and not model.exists()
    return resume


def one_line(err: str) -> str:
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_a_resume_state_that_fails_part_way_restarts_from_a_fresh_model(
    tmp_path, data_root, fresh_history
):
    model = tmp_path / "lstmfcn_c8_s1.keras"
    resume = stopped_run(data_root, model, after=5)
    # The model variables load, then the optimizer's are missing: the load fails half-way.
    with np.load(resume) as z:
        kept = {k: z[k] for k in z.files if not k.startswith("opt_")}
    np.savez(resume, **kept)
    said = []
    done = train(load("ItalyPowerDemand", data_root), CONFIG, model, log=said.append)
    assert any("is unreadable" in m and "starting over" in m for m in said), said
    assert done.resumed_from is None and done.epochs_run == EPOCHS
    first, reference = done.history[0]["loss"], fresh_history[0]["loss"]
    assert first == pytest.approx(reference, rel=1e-4), "began from a mix of states"
    assert (tmp_path / "lstmfcn_c8_s1.resume.npz.unusable").exists()


def test_a_truncated_resume_state_is_set_aside_and_training_starts_over(
    tmp_path, data_root, fresh_history, capsys
):
    model = tmp_path / "lstmfcn_c8_s1.keras"
    resume = stopped_run(data_root, model, after=3)
    resume.write_bytes(resume.read_bytes()[: resume.stat().st_size // 2])
    args = ["train", "ItalyPowerDemand", "--root", str(data_root), "--out", str(tmp_path)]
    args += ["--epochs", str(EPOCHS), "--checkpoint-every", "2", "--seed", "1"]
    assert main(args) == 0  # and again: a rerun is not blocked by the damaged file
    out = capsys.readouterr().out
    assert "set aside as lstmfcn_c8_s1.resume.npz.unusable, starting over" in out
    assert "resuming" not in out
    info = json.loads(beside_model(model, "info").read_text())
    assert info["epochs_run"] == EPOCHS and info["resumed_from_epoch"] is None


def test_fewer_epochs_than_a_stopped_run_has_done_is_refused(tmp_path, data_root, capsys):
    model = tmp_path / "lstmfcn_c8_s1.keras"
    resume = stopped_run(data_root, model, after=5)  # resume state at epoch 4
    args = ["train", "ItalyPowerDemand", "--root", str(data_root), "--out", str(tmp_path)]
    code = main([*args, "--epochs", "3", "--checkpoint-every", "2", "--seed", "1"])
    line = one_line(capsys.readouterr().err)
    assert code == 2
    assert "has already trained 4 epochs, more than --epochs 3" in line
    assert "--epochs 4 or more" in line
    assert resume.exists() and not model.exists() and not beside_model(model, "info").exists()


@pytest.mark.parametrize(
    "option,value,message",
    [
        ("--threads", "-4", "--threads must be >= 1, got -4"),
        ("--threads", "0", "--threads must be >= 1, got 0"),
        ("--seed", "-1", "seed must be >= 0, got -1"),
        ("--min-delta", "nan", "plateau_min_delta must be >= 0, got nan"),
        ("--cells", "100000", "cells must be <= 2048, got 100000"),
        ("--epochs", "0", "epochs must be >= 1, got 0"),
        ("--log-every", "-1", "--log-every must be >= 0"),
    ],
)
def test_bad_numbers_are_one_line_before_any_work(
    tmp_path, data_root, capsys, option, value, message
):
    out = tmp_path / "models"
    args = ["train", "ItalyPowerDemand", "--root", str(data_root), "--out", str(out)]
    assert main([*args, option, value]) == 2
    assert message in one_line(capsys.readouterr().err)
    assert not out.exists()


def test_output_locations_are_checked_before_training(tmp_path, data_root, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder\n")
    base = ["train", "ItalyPowerDemand", "--root", str(data_root), "--epochs", "1"]
    for out, message in [
        (a_file, f"--out {a_file} is a file; expected a folder"),
        (a_file / "sub", f"--out {a_file / 'sub'} cannot be made: {a_file} is a file"),
    ]:
        assert main([*base, "--out", str(out)]) == 2
        assert message in one_line(capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


@pytest.fixture(scope="module")
def run_dir(data_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    train(load("ItalyPowerDemand", data_root), TrainConfig(epochs=2), out / "lstmfcn_c8_s0.keras")
    return out


def evaluate_args(run_dir: Path, root: Path, out: Path, dataset="ItalyPowerDemand") -> list:
    model = run_dir / "lstmfcn_c8_s0.keras"
    return ["evaluate", str(model), "--dataset", dataset, "--root", str(root), "--out", str(out)]


def test_evaluate_refuses_a_model_trained_on_another_dataset(tmp_path, data_root, run_dir, capsys):
    """Same length and classes, another dataset: refused unless asked, then recorded."""
    other = tmp_path / "data"
    shutil.copytree(data_root / "ItalyPowerDemand", other / "Chinatown")
    meta = json.loads((other / "Chinatown" / "meta.json").read_text())
    (other / "Chinatown" / "meta.json").write_text(json.dumps({**meta, "name": "Chinatown"}))
    out = tmp_path / "m.json"
    assert main(evaluate_args(run_dir, other, out, "Chinatown")) == 2
    line = one_line(capsys.readouterr().err)
    assert "trained on dataset ItalyPowerDemand, not on Chinatown" in line
    assert "--allow-other-data" in line and not out.exists()

    assert main([*evaluate_args(run_dir, other, out, "Chinatown"), "--allow-other-data"]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["dataset"] == "Chinatown"
    assert metrics["trained_on"]["dataset"] == "ItalyPowerDemand"


def test_evaluate_refuses_other_data_under_the_same_name(tmp_path, run_dir, capsys):
    other = tmp_path / "data"
    prepare(
        "ItalyPowerDemand", other, cache_dir=tmp_path / "cache", normalise="none", progress=False
    )
    out = tmp_path / "m.json"
    assert main(evaluate_args(run_dir, other, out)) == 2
    assert "trained on other data of ItalyPowerDemand" in one_line(capsys.readouterr().err)
    assert not out.exists()


def test_evaluate_checks_its_output_path_first(tmp_path, data_root, run_dir, capsys):
    assert main(evaluate_args(run_dir, data_root, tmp_path)) == 2
    assert f"--out {tmp_path} is a folder; expected a file" in one_line(capsys.readouterr().err)
    out = tmp_path / "new" / "m.json"
    for _ in range(2):  # a new folder, then an existing file, are fine
        assert main(evaluate_args(run_dir, data_root, out)) == 0
        assert json.loads(out.read_text())["dataset"] == "ItalyPowerDemand"


def test_evaluate_without_the_runs_train_json_is_refused(tmp_path, data_root, run_dir, capsys):
    lone = tmp_path / "lstmfcn_c8_s0.keras"
    shutil.copy(run_dir / "lstmfcn_c8_s0.keras", lone)
    out = tmp_path / "m.json"
    assert main(evaluate_args(tmp_path, data_root, out)) == 2
    assert "says which dataset the model was trained on" in one_line(capsys.readouterr().err)
    assert not out.exists()


def test_a_refused_checkpoint_is_one_line(tmp_path):
    """Keras's safe-mode refusal (a Lambda layer's Python code) spans many lines."""
    inputs = keras.Input((24,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2.0, name="head")(inputs))
    path = tmp_path / "lambda.keras"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        assert "Lambda" in z.read("config.json").decode()
    with pytest.raises(LstmfcnError) as e:
        load_checkpoint(path)
    assert "\n" not in str(e.value) and "cannot load checkpoint" in str(e.value)
