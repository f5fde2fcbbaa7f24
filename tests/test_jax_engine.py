"""The JAX engine (training/jax_engine.py) against the Keras loop, under JAX, for real: the same
maths, members that train as they would alone, resuming after kill -9 and SIGTERM.

Keras runs on TensorFlow in this test process, so everything under JAX runs in subprocesses.
Float noise (the engine's program and train_on_batch's compile to different XLA code) starts
at ~1e-8 and training on a small dataset can amplify it over epochs; so the first epochs are
compared tightly, the learning-rate schedule exactly, and the whole run loosely.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import run_until

pytestmark = pytest.mark.slow
JAX_ENV = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONUNBUFFERED": "1"}
#: What the data_root fixture (conftest.py) prepares for this module.
PREPARED = ("ItalyPowerDemand",)


COMPARE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from lstmfcn_bench import runtime
    from lstmfcn_bench.data.dataset import load
    from lstmfcn_bench.training import TrainConfig, train
    from lstmfcn_bench.training.jax_engine import train_group

    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    runtime.configure()
    ds = load("ItalyPowerDemand", root)
    # 67 series in batches of 16: four full batches and a last one of 3 (BatchNorm must see
    # exactly those 3 rows); patience 2 so that the plateau schedule acts within 20 epochs.
    configs = [
        TrainConfig(model=sys.argv[3], epochs=int(sys.argv[4]), batch_size=16, plateau_patience=2,
                    plateau_min_delta=0.02, seed=s, checkpoint_every=min(7, int(sys.argv[4]) - 1))
        for s in (0, 1, 2)
    ]  # a resume state is saved mid-run, however short
    keras_loop = [train(ds, c, out / f"k{c.seed}.keras", log_every=0).history for c in configs]
    group = [r.history for r in train_group(
        ds, configs, [out / f"g{c.seed}.keras" for c in configs], log_every=0)]
    alone = train_group(ds, configs[1:2], [out / "a1.keras"], log_every=0)[0].history
    json.dump({"keras": keras_loop, "group": group, "alone": alone}, open(out / "h.json", "w"))
    """
)


def columns(history: list[dict]) -> dict[str, np.ndarray]:
    return {k: np.array([r[k] for r in history]) for k in ("loss", "accuracy", "lr")}


#: Epochs over which runs that should be the same must agree to float tolerance, per model
#: (and so the epochs each is trained for). Float-order differences (vmap, fused batches) grow
#: as training goes on. The plain LSTM's piecewise-linear hard-sigmoid gates grow them fastest
#: (a pre-activation crossing ±2.5 switches its gradient on or off): 1e-5 after 4 epochs of
#: these 5 small batches, 6e-4 after 5, 10 % by epoch 17. Its sigmoid twin checks the same
#: maths over all 20 epochs, the plateau schedule included.
AGREE_EPOCHS = {"lstmfcn_sigmoid": 20, "alstmfcn": 20, "lstmfcn": 4}


def assert_same_run(a: list[dict], b: list[dict], epochs: int) -> None:
    a, b = columns(a), columns(b)
    assert len(a["loss"]) == len(b["loss"]) == epochs
    np.testing.assert_allclose(b["loss"][:5], a["loss"][:5], rtol=1e-4)
    np.testing.assert_allclose(b["lr"], a["lr"], rtol=1e-6)  # the schedule
    np.testing.assert_allclose(b["loss"], a["loss"], rtol=5e-2)
    np.testing.assert_allclose(b["accuracy"], a["accuracy"], atol=2 / 67 + 1e-6)
    if epochs == 20:
        assert len(set(np.round(a["lr"], 8))) > 1, "the plateau schedule should act"


@pytest.mark.parametrize("model", list(AGREE_EPOCHS))
def test_the_engine_trains_as_the_keras_loop_and_members_as_alone(tmp_path, data_root, model):
    epochs = AGREE_EPOCHS[model]
    done = subprocess.run(
        [sys.executable, "-c", COMPARE, str(data_root), str(tmp_path), model, str(epochs)],
        env=JAX_ENV,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    h = json.loads((tmp_path / "h.json").read_text())
    for seed in range(3):
        assert_same_run(h["keras"][seed], h["group"][seed], epochs)
    assert_same_run(h["alone"], h["group"][1], epochs)
    # Same outputs as the Keras loop writes, with the engine recorded.
    info = json.loads((tmp_path / "g1_train.json").read_text())
    assert info["engine"] == "jax" and info["group_seeds"] == [0, 1, 2]
    assert info["config"]["seed"] == 1 and info["epochs_run"] == epochs
    kept = int(np.argmin([r["loss"] for r in h["group"][1]])) + 1
    assert info["best_epoch"] == kept


PROGRAMS = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from lstmfcn_bench import runtime
    from lstmfcn_bench.data.dataset import load
    from lstmfcn_bench.training import TrainConfig
    from lstmfcn_bench.training.jax_engine import train_group

    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    runtime.configure()
    ds = load("ItalyPowerDemand", root)
    configs = [
        TrainConfig(model="alstmfcn", epochs=7, batch_size=16, plateau_patience=1,
                    plateau_min_delta=0.02, seed=s, checkpoint_every=3)
        for s in (0, 1, 2)
    ]
    runs = {}
    for host_loop in (True, False):
        paths = [out / f"{host_loop}{c.seed}.keras" for c in configs]
        runs[str(host_loop)] = [
            r.history for r in train_group(ds, configs, paths, log_every=0, host_loop=host_loop)
        ]
    json.dump(runs, open(out / "h.json", "w"))
    """
)


def test_the_accelerators_program_computes_what_the_cpus_does(tmp_path, data_root):
    """CI has no GPU, so the GPU's program (an interval of epochs per call, lax.scan over the
    batches, members vmapped) runs here on the CPU beside the CPU's own (one call per epoch,
    batches and members unrolled): the same histories, epoch by epoch."""
    done = subprocess.run(
        [sys.executable, "-c", PROGRAMS, str(data_root), str(tmp_path)],
        env=JAX_ENV,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    h = json.loads((tmp_path / "h.json").read_text())
    for cpu, accelerator in zip(h["True"], h["False"], strict=True):
        a, b = columns(cpu), columns(accelerator)
        assert len(a["loss"]) == 7  # 3 + 3 + 1: the last call's spare epochs are masked off
        np.testing.assert_allclose(b["loss"], a["loss"], rtol=1e-4)
        np.testing.assert_allclose(b["lr"], a["lr"], rtol=1e-6)
        np.testing.assert_allclose(b["accuracy"], a["accuracy"], atol=1 / 67 + 1e-6)
    assert len({round(r["lr"], 8) for r in h["True"][0]}) > 1, "the plateau schedule should act"


def train_cmd(data_root: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "lstmfcn_bench.cli", "train", "ItalyPowerDemand",
        "--engine", "jax", "--model", "alstmfcn", "--seed", "0", "1", "2",
        "--epochs", "24", "--checkpoint-every", "4", "--patience", "2", "--min-delta", "0.02",
        "--root", str(data_root), "--out", str(out),
    ]  # fmt: skip


def history(path: Path) -> list[dict]:
    with open(path) as f:
        return [{k: float(v) for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def reference_group(data_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    subprocess.run(train_cmd(data_root, out), check=True, capture_output=True, env=JAX_ENV)
    return out


def test_a_killed_group_resumes_every_member(tmp_path, data_root, reference_group):
    cmd = train_cmd(data_root, tmp_path)
    code, out = run_until(cmd, "seed 2: epoch 12/", signal.SIGKILL, JAX_ENV)
    assert code == -signal.SIGKILL, out
    resumes = sorted(p.name for p in tmp_path.glob("*.resume.npz"))
    assert resumes == [f"alstmfcn_c8_s{s}.resume.npz" for s in range(3)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=JAX_ENV)
    assert done.returncode == 0, done.stdout + done.stderr
    resumed = [x for x in done.stdout.splitlines() if x.startswith("resuming")]
    assert len(resumed) == 3 and all("from epoch 9 " in x or "from epoch 13 " in x for x in resumed)
    for s in range(3):
        name = f"alstmfcn_c8_s{s}_history.csv"
        ours, ref = history(tmp_path / name), history(reference_group / name)
        assert [r["epoch"] for r in ours] == list(range(1, 25))
        # The same program from the same saved state: the same numbers as the uninterrupted run.
        np.testing.assert_allclose([r["loss"] for r in ours], [r["loss"] for r in ref], rtol=1e-6)
    assert not list(tmp_path.glob("*.resume.npz"))


def test_sigterm_saves_every_member_then_exits_143(tmp_path, data_root):
    cmd = train_cmd(data_root, tmp_path)
    code, out = run_until(cmd, "seed 2: epoch 8/", signal.SIGTERM, JAX_ENV)
    assert code == 143, out
    assert "resume states saved" in out
    assert len(list(tmp_path.glob("*.resume.npz"))) == 3
    assert not list(tmp_path.glob("*.keras"))
    done = subprocess.run(cmd, capture_output=True, text=True, env=JAX_ENV)
    assert done.returncode == 0 and done.stdout.count("resuming") == 3, done.stdout


def test_a_stop_signal_waits_for_at_most_ten_epochs_not_a_checkpoint_interval(tmp_path, data_root):
    """With checkpoint_every far away, SIGTERM is still seen within SIGNAL_EVERY epochs."""
    cmd = train_cmd(data_root, tmp_path)
    cmd[cmd.index("--checkpoint-every") + 1] = "1000"
    cmd[cmd.index("--epochs") + 1] = "60"
    code, out = run_until(cmd, "seed 2: epoch 10/", signal.SIGTERM, JAX_ENV)
    assert code == 143, out
    stopped = int(out.split("after epoch ")[1].split(";")[0])
    assert stopped in (10, 20), out
    from lstmfcn_bench.training.resume import ResumeState

    assert ResumeState.fingerprint_of(tmp_path / "alstmfcn_c8_s0.resume.npz")


def test_a_group_needs_one_configuration_and_jax(data_root, tmp_path):
    from lstmfcn_bench.errors import ConfigError
    from lstmfcn_bench.training import TrainConfig
    from lstmfcn_bench.training.jax_engine import check_group, train_group

    with pytest.raises(ConfigError, match="differ only in their seed"):
        check_group([TrainConfig(seed=0), TrainConfig(seed=1, cells=64)])
    with pytest.raises(ConfigError, match="seeds must differ"):
        check_group([TrainConfig(seed=0), TrainConfig(seed=0)])
    with pytest.raises(ConfigError, match="KERAS_BACKEND=jax"):  # this process runs TensorFlow
        train_group(None, [TrainConfig()], [tmp_path / "x.keras"])
