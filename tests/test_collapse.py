"""Failed runs: flags for training that never learns and for inference that collapses, and the
BN-recalibrated variant (BatchNorm statistics recomputed on the training split)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from lstmfcn_bench.data.dataset import load
from lstmfcn_bench.models.architecture import build_model
from lstmfcn_bench.models.batchnorm import batchnorm_layers, recalibrate
from lstmfcn_bench.models.checkpoint import load_checkpoint, model_input
from lstmfcn_bench.results.evaluation import collapse_flags, evaluate
from lstmfcn_bench.training import TrainConfig, train

#: What the data_root fixture (conftest.py) prepares for this module.
PREPARED = ("ItalyPowerDemand",)


@pytest.fixture(scope="module")
def trained(data_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "lstmfcn_c8_s0.keras"
    train(load("ItalyPowerDemand", data_root), TrainConfig(epochs=200), out, log_every=0)
    return out


def test_recalibrated_statistics_are_the_training_splits_batch_statistics():
    """After recalibration, inference mode normalises as training mode does on the whole
    split as one batch: every BN layer's output agrees, down to the last conv block."""
    model = build_model("lstmfcn", 40, 3, cells=4)
    x = model_input(np.random.default_rng(0).normal(size=(300, 40)) * 3 + 1, shuffle=True)
    probe = keras.Model(model.input, model.get_layer("relu3").output)
    whole_batch = np.asarray(probe(x, training=True))  # also moves the moving averages a bit
    old_variance = np.asarray(model.get_layer("bn1").moving_variance)
    ratios = recalibrate(model, x, batch_size=64)  # in several batches: sums must add up
    np.testing.assert_allclose(np.asarray(probe(x, training=False)), whole_batch, atol=2e-4)
    assert len(ratios) == 3 and all(r > 0 for r in ratios)
    bn1_in = np.asarray(keras.Model(model.input, model.get_layer("bn1").input)(x)).reshape(-1, 128)
    expected = np.median(old_variance / bn1_in.var(axis=0))
    assert ratios[0] == pytest.approx(float(expected), rel=1e-3)


@pytest.mark.parametrize(
    ("train_acc", "inference_acc", "first", "kept", "majority", "expected"),
    [
        (1.0, 0.99, 0.7, 0.01, 0.5, []),  # a good run
        (0.52, 0.5, 0.7, 0.68, 0.5, ["never_learned"]),  # training accuracy at chance
        (0.9, 0.9, 0.7, 0.7, 0.5, ["never_learned"]),  # loss never below its first epoch's
        (0.72, 0.7, 0.7, 0.5, 0.7, ["never_learned"]),  # always the majority class (70 %)
        (1.0, 0.47, 0.7, 0.02, 0.5, ["inference_collapse"]),  # the held-out ALSTM-FCN case
        (1.0, 0.85, 0.7, 0.02, 0.5, []),  # a gap, but not a collapse
        (1.0, 0.9, None, 0.02, 0.5, []),  # no history: judged on accuracies alone
    ],
)
def test_collapse_flags(train_acc, inference_acc, first, kept, majority, expected):
    assert collapse_flags(train_acc, inference_acc, first, kept, majority) == expected


def test_a_healthy_run_is_not_flagged_and_recalibration_changes_little(data_root, trained):
    m = evaluate(trained, load("ItalyPowerDemand", data_root))
    assert m["flags"] == []
    assert m["train_accuracy_inference"] >= 0.9
    recal = m["recalibrated"]
    assert abs(recal["test_accuracy"] - m["test_accuracy"]) < 0.05
    assert recal["train_accuracy_inference"] >= 0.9
    assert all(0.2 < r < 5 for r in recal["moving_variance_ratio"])


def test_stale_batchnorm_statistics_are_flagged_and_recalibration_recovers(
    data_root, trained, tmp_path
):
    """The failure seen on a held-out dataset, made on purpose: the kept weights fit, but the
    last BN layer's moving statistics are off (here shifted by 4 standard deviations)."""
    model = load_checkpoint(trained)
    bn3 = batchnorm_layers(model)[-1]
    std = np.sqrt(np.asarray(bn3.moving_variance))
    bn3.moving_mean.assign(np.asarray(bn3.moving_mean) + 4 * std)
    stale = tmp_path / "lstmfcn_c8_s0.keras"
    model.save(stale)
    for beside in ("_train.json", "_history.csv"):
        (tmp_path / f"lstmfcn_c8_s0{beside}").write_bytes(
            trained.with_name(f"lstmfcn_c8_s0{beside}").read_bytes()
        )
    dataset = load("ItalyPowerDemand", data_root)
    m = evaluate(stale, dataset)
    assert m["flags"] == ["inference_collapse"], m["train_accuracy_inference"]
    assert m["train_accuracy_inference"] < m["train_accuracy"] - 0.2
    healthy = evaluate(trained, dataset)
    assert m["recalibrated"]["test_accuracy"] == pytest.approx(
        healthy["recalibrated"]["test_accuracy"], abs=0.01
    )
    assert m["recalibrated"]["train_accuracy_inference"] >= 0.9


def test_a_run_that_never_got_past_its_first_epoch_is_flagged(data_root, tmp_path):
    out = tmp_path / "lstmfcn_c8_s0.keras"
    dataset = load("ItalyPowerDemand", data_root)
    train(dataset, TrainConfig(epochs=1), out, log_every=0)
    assert evaluate(out, dataset)["flags"] == ["never_learned"]
