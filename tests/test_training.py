"""The training protocol, resumable training (real processes killed for real), evaluation."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import run_until

from lstmfcn_bench.cli import main
from lstmfcn_bench.data.dataset import load
from lstmfcn_bench.errors import ConfigError, LstmfcnError
from lstmfcn_bench.models.checkpoint import load_checkpoint
from lstmfcn_bench.models.losses import ClassWeightedCrossEntropy
from lstmfcn_bench.results.evaluation import evaluate
from lstmfcn_bench.runs import beside_model
from lstmfcn_bench.training import TrainConfig, train
from lstmfcn_bench.training.protocol import Plateau, class_weights, epoch_permutation

#: What the data_root fixture (conftest.py) prepares for this module.
PREPARED = ("GunPoint", "ItalyPowerDemand")


def test_class_weights_are_n_over_k_count():
    y = np.array([0, 0, 0, 1, 2, 2])
    np.testing.assert_allclose(class_weights(y, 3), [6 / 9, 6 / 3, 6 / 6])
    np.testing.assert_array_equal(class_weights(y, 3, balanced=False), [1, 1, 1])
    with pytest.raises(LstmfcnError, match="no training series"):
        class_weights(np.array([0, 0, 2]), 3)


def test_weighted_loss_matches_the_formula():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(3), size=8).astype("float32")
    y = rng.integers(0, 3, 8)
    w = np.array([0.5, 2.0, 1.5], dtype="float32")
    got = float(ClassWeightedCrossEntropy(w)(y, p))
    want = np.mean(w[y] * -np.log(p[np.arange(8), y]))
    assert got == pytest.approx(want, rel=1e-5)


def test_plateau_follows_keras_reduce_lr_on_plateau():
    """Same learning-rate sequence as Keras's own callback on the same losses."""
    rng = np.random.default_rng(1)
    losses = np.concatenate([np.linspace(1, 0.5, 10), 0.5 + 0.01 * rng.random(40)]).tolist()
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    factor = 1 / 2 ** (1 / 3)
    cb = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=factor, patience=3, min_lr=4e-4)
    cb.set_model(model)
    cb.on_train_begin()
    ours = Plateau(lr=1e-3, factor=factor, patience=3, min_lr=4e-4, min_delta=1e-4)
    for epoch, loss in enumerate(losses):
        cb.on_epoch_end(epoch, {"loss": loss})
        assert ours.update(loss) == pytest.approx(float(model.optimizer.learning_rate), rel=1e-6)
    assert ours.lr == pytest.approx(4e-4)  # it did reduce, down to the floor


def test_epoch_order_depends_only_on_seed_and_epoch():
    a = epoch_permutation(3, 7, 100)
    assert np.array_equal(a, epoch_permutation(3, 7, 100))
    assert not np.array_equal(a, epoch_permutation(3, 8, 100))
    assert sorted(a) == list(range(100))


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("model", "fcn", "unknown model"),
        ("cells", 0, "cells must be >= 1"),
        ("epochs", 0, "epochs must be >= 1"),
        ("batch_size", -1, "batch_size"),
    ],
)
def test_bad_config_is_rejected(field, value, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**{field: value}).validate()


@pytest.mark.parametrize(
    "args,message",
    [(["--cells", "0"], "cells must be >= 1"), (["--epochs", "0"], "epochs must be >= 1")],
)
def test_cli_bad_input_writes_nothing(tmp_path, data_root, capsys, args, message):
    out = tmp_path / "m"
    code = main(["train", "GunPoint", "--root", str(data_root), "--out", str(out), *args])
    assert code == 2 and message in capsys.readouterr().err
    assert not out.exists()


def test_cli_unknown_model(tmp_path, data_root, capsys):
    with pytest.raises(SystemExit) as e:
        main(
            [
                "train",
                "GunPoint",
                "--model",
                "resnet",
                "--root",
                str(data_root),
                "--out",
                str(tmp_path / "m"),
            ]
        )
    assert e.value.code == 2 and "invalid choice: 'resnet'" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_gunpoint_learns_to_high_test_accuracy(tmp_path, data_root):
    """A real short run of the protocol: GunPoint reaches >= 0.9 test accuracy."""
    ds = load("GunPoint", data_root)
    config = TrainConfig(epochs=500, seed=0, checkpoint_every=1000)
    result = train(ds, config, tmp_path / "lstmfcn_c8_s0.keras", log_every=0)
    assert result.epochs_run == 500
    losses = [h["loss"] for h in result.history]
    assert result.best_loss == min(losses) and losses[result.best_epoch - 1] == result.best_loss
    assert np.mean(losses[-20:]) < 0.2 * np.mean(losses[:20])
    metrics = evaluate(tmp_path / "lstmfcn_c8_s0.keras", ds)
    assert metrics["test_accuracy"] >= 0.9, metrics["test_accuracy"]
    assert metrics["train_loss"] == pytest.approx(result.best_loss)
    assert metrics["best_epoch"] == result.best_epoch and metrics["epochs_run"] == 500
    assert sum(map(sum, metrics["confusion_matrix"])) == 150
    assert metrics["backend"] == "tensorflow" and metrics["data_sha256"] == ds.meta["data_sha256"]
    assert not beside_model(tmp_path / "lstmfcn_c8_s0.keras", "resume").exists()
    with open(tmp_path / "lstmfcn_c8_s0_history.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "lr", "seconds"] and len(rows) == 500


# --- resuming after a kill: real subprocesses ----------------------------------------------------

EPOCHS = 40


def train_cmd(data_root: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "lstmfcn_bench.cli",
        "train",
        "ItalyPowerDemand",
        "--model",
        "alstmfcn",
        "--epochs",
        str(EPOCHS),
        "--checkpoint-every",
        "5",
        "--patience",
        "2",
        "--min-delta",
        "0.02",
        "--seed",
        "3",
        "--deterministic",
        "--root",
        str(data_root),
        "--out",
        str(out),
    ]


def history(path: Path) -> list[dict]:
    return [
        {k: float(v) for k, v in r.items() if k != "seconds"} for r in csv.DictReader(open(path))
    ]


@pytest.fixture(scope="module")
def reference_run(data_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    subprocess.run(train_cmd(data_root, out), check=True, capture_output=True)
    return out


@pytest.mark.slow
def test_sigkill_then_rerun_resumes_exactly(tmp_path, data_root, reference_run):
    cmd = train_cmd(data_root, tmp_path)
    code, out = run_until(cmd, "epoch 17/", signal.SIGKILL)
    assert code == -signal.SIGKILL
    model = tmp_path / "alstmfcn_c8_s3.keras"
    assert not model.exists() and beside_model(model, "resume").exists()

    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("resuming"))
    start = int(line.split("from epoch ")[1].split()[0])
    assert (start - 1) % 5 == 0 and 5 < start <= 17  # the last resume state before the kill
    ref = history(reference_run / "alstmfcn_c8_s3_history.csv")
    lr = float(line.split("(lr ")[1].split(",")[0])
    best = float(line.split("best loss ")[1].split()[0])
    assert lr == pytest.approx(ref[start - 1]["lr"], rel=1e-4)  # the schedule carried on
    assert best == pytest.approx(min(r["loss"] for r in ref[: start - 1]), abs=2e-6)

    # Same history and same kept weights as the uninterrupted run (CPU, deterministic ops).
    assert history(tmp_path / "alstmfcn_c8_s3_history.csv") == ref
    assert len({r["lr"] for r in ref}) > 1, "the test should span a learning-rate reduction"
    a = load_checkpoint(model).get_weights()
    b = load_checkpoint(reference_run / "alstmfcn_c8_s3.keras").get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not beside_model(model, "resume").exists()
    info = json.loads((tmp_path / "alstmfcn_c8_s3_train.json").read_text())
    assert info["resumed_from_epoch"] == start - 1


@pytest.mark.slow
@pytest.mark.parametrize("sig,status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stop_signal_saves_then_exits_with_its_status(
    tmp_path, data_root, reference_run, sig, status
):
    cmd = train_cmd(data_root, tmp_path)
    code, out = run_until(cmd, "epoch 8/", sig)
    assert code == status, out
    assert "resume state saved" in out
    stopped = int(out.split("after epoch ")[1].split(";")[0])
    model = tmp_path / "alstmfcn_c8_s3.keras"
    assert not model.exists() and beside_model(model, "resume").exists()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert f"from epoch {stopped + 1} " in done.stdout
    assert history(tmp_path / "alstmfcn_c8_s3_history.csv") == history(
        reference_run / "alstmfcn_c8_s3_history.csv"
    )


# --- evaluation of checkpoints -------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_checkpoint(data_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ckpt") / "lstmfcn_c8_s0.keras"
    train(load("ItalyPowerDemand", data_root), TrainConfig(epochs=3), out, log_every=0)
    return out


def test_evaluate_cli_writes_metrics(tmp_path, data_root, small_checkpoint, capsys):
    out = tmp_path / "metrics.json"
    assert (
        main(
            [
                "evaluate",
                str(small_checkpoint),
                "--dataset",
                "ItalyPowerDemand",
                "--root",
                str(data_root),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    m = json.loads(out.read_text())
    assert m["n_test"] == 1029 and 0 <= m["test_accuracy"] <= 1
    assert (m["model"], m["cells"], m["seed"], m["epochs_run"]) == ("lstmfcn", 8, 0, 3)
    assert set(m["per_class_accuracy"]) == {"1", "2"}
    assert np.trace(np.array(m["confusion_matrix"])) / 1029 == pytest.approx(m["test_accuracy"])
    for key in ("backend", "device", "versions", "data_sha256", "train_loss", "train_seconds"):
        assert m[key] is not None


def test_evaluate_rejects_a_mismatched_dataset(tmp_path, data_root, small_checkpoint, capsys):
    out = tmp_path / "metrics.json"
    assert (
        main(
            [
                "evaluate",
                str(small_checkpoint),
                "--dataset",
                "GunPoint",
                "--root",
                str(data_root),
                "--out",
                str(out),
                "--allow-other-data",  # past the provenance check: the shapes differ too
            ]
        )
        == 2
    )
    assert "expects series of length 24 with 2 classes" in capsys.readouterr().err
    assert not out.exists()


def test_evaluate_rejects_corrupt_and_foreign_files(tmp_path, data_root, small_checkpoint, capsys):
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(small_checkpoint.read_bytes()[:2000])
    foreign = tmp_path / "foreign.keras"
    keras.Sequential([keras.Input((24,)), keras.layers.Dense(2)]).save(foreign)
    for path, message in [
        (corrupt, "not a Keras .keras archive"),
        (foreign, "not an LSTM-FCN"),
        (tmp_path / "missing.keras", "no checkpoint"),
    ]:
        out = tmp_path / "m.json"
        assert (
            main(
                [
                    "evaluate",
                    str(path),
                    "--dataset",
                    "ItalyPowerDemand",
                    "--root",
                    str(data_root),
                    "--out",
                    str(out),
                ]
            )
            == 2
        )
        assert message in capsys.readouterr().err
        assert not out.exists()


@pytest.mark.slow
def test_training_runs_on_the_jax_backend(tmp_path, data_root):
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lstmfcn_bench.cli",
            "train",
            "ItalyPowerDemand",
            "--model",
            "alstmfcn",
            "--epochs",
            "3",
            "--root",
            str(data_root),
            "--out",
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    info = json.loads((tmp_path / "alstmfcn_c8_s0_train.json").read_text())
    assert info["backend"] == "jax" and info["epochs_run"] == 3
    assert info["precision"] == "fp32"


@pytest.mark.parametrize(
    "tf32,preset,expected", [(False, "tensorfloat32", "highest"), (True, "highest", "None")]
)
def test_configure_sets_jax_precision_and_gpu_sharing(tf32, preset, expected):
    """Full fp32 unless TF32 is asked for, whatever JAX started with; GPU memory grows on
    demand (shared GPUs)."""
    pytest.importorskip("jax")
    code = (
        "import os, jax; from lstmfcn_bench import runtime; "
        f"runtime.configure(tf32={tf32}); "
        "print(jax.config.jax_default_matmul_precision, runtime.precision(), "
        "os.environ['XLA_PYTHON_CLIENT_PREALLOCATE'])"
    )
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "JAX_PLATFORMS": "cpu",
        "JAX_DEFAULT_MATMUL_PRECISION": preset,
    }
    env.pop("XLA_PYTHON_CLIENT_PREALLOCATE", None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    precision = "tf32-allowed" if tf32 else "fp32"
    assert done.stdout.split() == [expected, precision, "false"]


def test_run_identity_for_resuming():
    """What a resume state must match: the maths of the run, not its epoch budget."""
    base = TrainConfig()
    same = [TrainConfig(epochs=3000), TrainConfig(checkpoint_every=7)]
    different = [TrainConfig(tf32=True), TrainConfig(seed=1), TrainConfig(cells=64)]
    different.append(TrainConfig(class_weighted=False))
    assert all(c.fingerprint("d") == base.fingerprint("d") for c in same)
    assert all(c.fingerprint("d") != base.fingerprint("d") for c in different)
    assert base.fingerprint("other data") != base.fingerprint("d")


def test_code_version_names_the_commit_and_a_dirty_tree(tmp_path):
    from lstmfcn_bench.runtime import code_version

    assert code_version(tmp_path) == {"commit": None, "dirty": None}  # not a checkout

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    repo = tmp_path / "repo"
    git("init", "-q", str(repo))
    tmp_path = repo
    (repo / "a.py").write_text("x = 1\n")
    git("add", "a.py")
    git("commit", "-qm", "one")
    (repo / "untracked.txt").write_text("results are not code\n")
    clean = code_version.__wrapped__(repo)
    assert clean == {"commit": git("rev-parse", "HEAD"), "dirty": False}
    (repo / "a.py").write_text("x = 2\n")
    assert code_version.__wrapped__(repo) == {"commit": clean["commit"], "dirty": True}


def test_an_installed_wheel_names_the_commit_its_builder_stated(tmp_path, monkeypatch):
    # On a lent GPU the package runs from a wheel, outside any checkout: bench/gpu_wheels.py
    # states the tree it built from, and only a well-formed statement is believed.
    from lstmfcn_bench.runtime import code_version

    commit = "0123456789abcdef0123456789abcdef01234567"
    for stated, expected in [
        (f"{commit} clean", {"commit": commit, "dirty": False}),
        (f"{commit} dirty", {"commit": commit, "dirty": True}),
        (f"{commit} maybe", {"commit": None, "dirty": None}),
        ("HEAD clean", {"commit": None, "dirty": None}),
    ]:
        monkeypatch.setenv("LSTMFCN_BENCH_CODE", stated)
        assert code_version.__wrapped__(tmp_path) == expected, stated
    monkeypatch.setenv("LSTMFCN_BENCH_CODE", f"{commit} clean")
    here = code_version.__wrapped__(Path(__file__).parent)  # a checkout: git wins
    assert here["commit"] != commit


def test_protocol_differences_name_each_field():
    from dataclasses import asdict

    from lstmfcn_bench.training.config import protocol_differences

    paper = asdict(TrainConfig())
    assert protocol_differences(paper) == []
    older = {k: v for k, v in paper.items() if k != "class_weighted"}  # recorded before it
    assert protocol_differences(older) == []
    assert protocol_differences({**paper, "epochs": 1000, "class_weighted": False}) == [
        "epochs 1000 (the paper's 2000)",
        "class_weighted False (the paper's True)",
    ]
    assert protocol_differences({**paper, "cells": 32}) == ["cells 32 (the paper's 8/64/128)"]
    assert (
        "shuffle None"
        in protocol_differences({k: v for k, v in paper.items() if k != "shuffle"})[0]
    )


#: A process that times a loop of ``seconds`` (wall) with a RunClock, printing both.
CLOCK_SCRIPT = """
import sys, time
from lstmfcn_bench.training.clock import RunClock

with RunClock(print, tick=0.05, suspended_after=0.5) as clock:
    print("ready", flush=True)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < float(sys.argv[1]):
        time.sleep(0.01)
    print(f"{time.perf_counter() - t0:.3f} {clock.elapsed():.3f}", flush=True)
"""


@pytest.mark.parametrize("stopped", [0.0, 2.0])
def test_a_suspended_run_does_not_count_the_pause_as_training(stopped):
    """kill -STOP for 2 s of a 4 s loop (as a campaign paused for CI, or SLURM's suspend):
    the clock gives the 2 s it ran and says what it left out; not stopped, the wall time."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CLOCK_SCRIPT, "4"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline() == "ready\n"
    if stopped:
        time.sleep(0.5)
        os.kill(proc.pid, signal.SIGSTOP)
        time.sleep(stopped)
        os.kill(proc.pid, signal.SIGCONT)
    wall, elapsed = map(float, proc.stdout.readline().split())
    said = proc.stdout.read()
    assert proc.wait() == 0
    assert wall >= 4.0 and elapsed == pytest.approx(wall - stopped, abs=0.3)
    if stopped:
        assert re.fullmatch(r"not counted as training: [23]s while suspended\n", said), said
    else:
        assert said == ""
