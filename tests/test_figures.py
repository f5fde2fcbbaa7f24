"""CAM, attention context, training curves and the accuracy scatter — on real, short training
runs (the embedded GunPoint demo data and a synthetic bump data set), through the CLI too."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import keras
import matplotlib
import numpy as np
import pytest
from matplotlib import image as mpimg

from lstmfcn_bench import aggregate
from lstmfcn_bench.cli import main
from lstmfcn_bench.data.dataset import load, prepare
from lstmfcn_bench.errors import LstmfcnError
from lstmfcn_bench.figures import context as context_module
from lstmfcn_bench.figures.cam import class_activation_maps, normalise_for_display
from lstmfcn_bench.figures.context import (
    CONTEXT_CAPTION,
    attention_summary,
    context_figure,
    context_for_display,
    parse_limit,
    rescale_symmetric,
    resize_linear,
)
from lstmfcn_bench.figures.curves import curves_figure
from lstmfcn_bench.figures.scatter import scatter_figure
from lstmfcn_bench.figures.style import style
from lstmfcn_bench.models.attention import attention_weights_and_context
from lstmfcn_bench.models.checkpoint import load_checkpoint, model_input
from lstmfcn_bench.results.reference import published_table
from lstmfcn_bench.training import TrainConfig, train

CELLS = 8
N_CONV = 128  # filters of the last conv block
#: What the data_root fixture (conftest.py) prepares for this module.
PREPARED = ("GunPoint",)


@pytest.fixture(scope="module")
def gunpoint(data_root):
    return load("GunPoint", data_root)


@pytest.fixture(scope="module")
def runs(gunpoint, tmp_path_factory) -> dict[str, Path]:
    """A few real epochs of each model on GunPoint (dimension shuffle, as in the paper)."""
    out = tmp_path_factory.mktemp("runs")
    paths = {}
    for model in ("lstmfcn", "alstmfcn"):
        config = TrainConfig(model=model, cells=CELLS, epochs=6, seed=0)
        paths[model] = train(
            gunpoint, config, out / f"{model}.keras", log=lambda m: None
        ).model_path
    return paths


def png(path: Path) -> np.ndarray:
    assert path.is_file() and path.stat().st_size > 0
    assert path.with_suffix(".svg").is_file() and path.with_suffix(".svg").stat().st_size > 0
    pixels = mpimg.imread(path)
    assert pixels.ndim == 3 and min(pixels.shape[:2]) > 100
    colours = np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)
    assert len(colours) > 50, "the image is (nearly) a single colour"
    return pixels


# ------------------------------------------------------------------------------ CAM


@pytest.mark.slow
@pytest.mark.parametrize("model_name", ["lstmfcn", "alstmfcn"])
def test_cam_time_mean_is_the_conv_part_of_the_logit(runs, gunpoint, model_name):
    model = load_checkpoint(runs[model_name])
    X = np.concatenate([gunpoint.X_train[:24], gunpoint.X_test[:16]])
    cams, conv_logits = class_activation_maps(model, X)
    n, K, T = len(X), gunpoint.n_classes, gunpoint.length
    assert cams.shape == (n, K, T) and conv_logits.shape == (n, K)

    # Independently: the head's input (the concat) from the model itself, the head's weights.
    x = model_input(X, True)
    concat = keras.Model(model.input, model.get_layer("concat").output)
    features = np.asarray(concat.predict(x, verbose=0), dtype=np.float64)
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in model.get_layer("head").get_weights())
    n_lstm = features.shape[1] - N_CONV
    assert n_lstm == CELLS and kernel.shape == (CELLS + N_CONV, K)
    logits = features @ kernel + bias
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softmax, model.predict(x, verbose=0), atol=1e-5)

    conv_part = features[:, n_lstm:] @ kernel[n_lstm:]
    lstm_part = features[:, :n_lstm] @ kernel[:n_lstm]
    assert np.abs(lstm_part).max() > 1e-3  # the LSTM rows matter, so mixing them in shows
    np.testing.assert_allclose(cams.mean(axis=-1), conv_part, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(conv_logits, conv_part, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(conv_logits + lstm_part + bias, logits, rtol=1e-4, atol=1e-4)

    # The original code's rows (the FIRST 128, which include the LSTM's) do not add up.
    relu3 = keras.Model(model.input, model.get_layer("relu3").output)
    f = np.asarray(relu3.predict(x, verbose=0), dtype=np.float64)
    wrong = np.einsum("ntk,kc->nct", f, kernel[:N_CONV]).mean(axis=-1)
    assert not np.allclose(wrong, conv_part, rtol=1e-3, atol=1e-3)
    assert not np.allclose(wrong + lstm_part + bias, logits, rtol=1e-3, atol=1e-3)
    right = np.einsum("ntk,kc->nct", f, kernel[-N_CONV:]).mean(axis=-1)
    np.testing.assert_allclose(right, conv_part, rtol=1e-4, atol=1e-4)


def test_cam_display_normalisation():
    cams = np.array([[[1.0, 3.0, 2.0], [5.0, 5.0, 5.0]]])
    out = normalise_for_display(cams)
    np.testing.assert_allclose(out, [[[0.0, 1.0, 0.5], [0.5, 0.5, 0.5]]])


@pytest.mark.slow
def test_cam_cli_classes_differ_and_files_are_reproducible(runs, data_root, tmp_path):
    paths = {}
    for label in ("1", "2"):
        paths[label] = tmp_path / f"cam_{label}.png"
        args = ["cam", str(runs["lstmfcn"]), "--dataset", "GunPoint", "--root", str(data_root)]
        assert main([*args, "--classes", label, "--out", str(paths[label])]) == 0
    one, two = png(paths["1"]), png(paths["2"])
    assert one.shape == two.shape and not np.array_equal(one, two)

    again = tmp_path / "again" / "cam_1.png"
    args = ["cam", str(runs["lstmfcn"]), "--dataset", "GunPoint", "--root", str(data_root)]
    assert main([*args, "--classes", "1", "--out", str(again)]) == 0
    assert again.read_bytes() == paths["1"].read_bytes()
    assert again.with_suffix(".svg").read_bytes() == paths["1"].with_suffix(".svg").read_bytes()

    both = tmp_path / "both.png"
    assert main([*args, "--samples", "3", "--out", str(both)]) == 0
    assert png(both).shape[0] > one.shape[0]  # two panels are taller than one


@pytest.mark.slow
def test_cam_cli_errors(runs, data_root, tmp_path, capsys):
    args = ["cam", str(runs["lstmfcn"]), "--dataset", "GunPoint", "--root", str(data_root)]
    assert main([*args, "--classes", "7", "--out", str(tmp_path / "x.png")]) == 2
    assert "has no class '7'; its classes are: 1, 2" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "x.pdf")]) == 2
    assert "must end in .png" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------ context


def bump_dataset(n: int = 100, T: int = 40) -> SimpleNamespace:
    """Class 1: a bump at t ∈ [25, 30]; class 0: the same bump at t ∈ [10, 15]; plus noise.

    Class 0 carries its bump elsewhere on purpose. With "class 0: no bump" the conv branch
    (conv + global average pooling) separates the classes within a few epochs, the loss goes to
    ~0 and the attention, whose energies start at exactly zero (v = 0), gets no consistent
    gradient: after 100–200 epochs the bump window held 0.14–0.17 of the mass (uniform: 0.15).
    A bump that differs only in *where* it is, is invisible to global average pooling, so the
    LSTM branch has to decide the class — and its attention then concentrates on the bump.
    """
    rng = np.random.default_rng(0)
    y = np.arange(n) % 2
    X = rng.normal(0.0, 0.3, (n, T)).astype(np.float32)
    X[y == 1, 25:31] += 2.0
    X[y == 0, 10:16] += 2.0
    return SimpleNamespace(
        name="Bump",
        X_train=X,
        y_train=y,
        X_test=X[:20],
        y_test=y[:20],
        n_classes=2,
        length=T,
        classes=["0", "1"],
        meta={"data_sha256": "synthetic-bump-v1", "n_classes": 2},
    )


@pytest.fixture(scope="module")
def bump_run(tmp_path_factory):
    ds = bump_dataset()
    config = TrainConfig(
        model="alstmfcn",
        cells=CELLS,
        epochs=80,
        batch_size=16,
        learning_rate=3e-3,
        seed=0,
        shuffle=False,
    )
    path = tmp_path_factory.mktemp("bump") / "alstmfcn.keras"
    result = train(ds, config, path, log=lambda m: None)
    return ds, load_checkpoint(result.model_path), result


@pytest.mark.slow
def test_attention_over_timesteps_concentrates_on_the_bump(bump_run):
    ds, model, result = bump_run
    assert result.history[-1]["accuracy"] >= 0.95
    X, y = ds.X_train, ds.y_train
    T = ds.length
    alpha_steps, z_steps = attention_weights_and_context(model, model_input(X, False))
    assert alpha_steps.shape == (len(X), T, T) and z_steps.shape == (len(X), T, 1)
    np.testing.assert_allclose(alpha_steps.sum(axis=-1), 1.0, atol=1e-5)

    alpha, z = attention_summary(model, X)
    assert alpha.shape == (len(X), T) and z.shape == (len(X), T)
    np.testing.assert_allclose(alpha.sum(axis=-1), 1.0, atol=1e-5)
    window = slice(25, 31)
    uniform = 6 / T
    mass_1 = alpha[y == 1, window].sum(axis=1).mean()
    mass_0 = alpha[y == 0, window].sum(axis=1).mean()
    assert mass_1 > 2 * uniform, (
        f"attention mass in the bump window {mass_1:.3f} (uniform {uniform})"
    )
    assert mass_1 > 3 * mass_0
    # The last step (whose h is the LSTM's output) looks there too.
    assert alpha_steps[y == 1, -1, window].sum(axis=1).mean() > 2 * uniform

    a_disp, z_disp = context_for_display(model, X)
    assert a_disp.shape == z_disp.shape == (len(X), T)
    assert a_disp.min() == pytest.approx(-1) and a_disp.max() == pytest.approx(1)

    fig = context_figure(model, ds, classwise=True, limit=3)
    text = " ".join(t.get_text() for sub in fig.subfigs for t in sub.texts)
    assert "spans all 40 timesteps" in text


@pytest.mark.slow
def test_context_with_the_dimension_shuffle_is_inert(runs, gunpoint):
    model = load_checkpoint(runs["alstmfcn"])
    X = gunpoint.X_test[:10]
    alpha, z = attention_summary(model, X)
    np.testing.assert_array_equal(alpha, np.ones((10, 1), dtype=alpha.dtype))
    np.testing.assert_allclose(z, X, atol=1e-6)
    a_disp, z_disp = context_for_display(model, X)
    np.testing.assert_array_equal(a_disp, np.ones((10, gunpoint.length)))
    np.testing.assert_allclose(z_disp, rescale_symmetric(X), atol=1e-6)
    assert "single step" in CONTEXT_CAPTION and "α ≡ 1" in CONTEXT_CAPTION
    assert "z = x" in CONTEXT_CAPTION and "shuffle: false" in CONTEXT_CAPTION
    assert "single step" in context_figure.__doc__ and "shuffle: false" in context_figure.__doc__


def test_resize_and_rescale():
    np.testing.assert_allclose(resize_linear(np.array([[0.0, 1.0]]), 5), [[0, 0.25, 0.5, 0.75, 1]])
    np.testing.assert_allclose(resize_linear(np.array([[2.0]]), 3), [[2, 2, 2]])
    np.testing.assert_allclose(rescale_symmetric(np.array([[0.0, 5.0, 10.0]])), [[-1, 0, 1]])
    np.testing.assert_allclose(
        rescale_symmetric(np.array([[1.0, 1.0], [0.0, 0.0]])), [[1, 1], [0, 0]]
    )
    assert parse_limit("all") is None and parse_limit("3") == 3
    for bad in ("0", "-1", "many"):
        with pytest.raises(LstmfcnError, match="positive integer or 'all'"):
            parse_limit(bad)


@pytest.mark.slow
def test_context_cli(runs, data_root, tmp_path, capsys, monkeypatch):
    base = ["context", str(runs["alstmfcn"]), "--dataset", "GunPoint", "--root", str(data_root)]
    one = tmp_path / "one.png"
    assert main([*base, "--classwise", "--out", str(one)]) == 0
    classwise = png(one)
    again = tmp_path / "again.png"
    assert main([*base, "--classwise", "--out", str(again)]) == 0
    assert again.read_bytes() == one.read_bytes()

    monkeypatch.setattr(context_module, "LARGE", 150)
    capsys.readouterr()
    every = tmp_path / "all.png"
    assert main([*base, "--limit", "all", "--out", str(every)]) == 0
    err = capsys.readouterr().err
    assert "warning: drawing the context of 200 samples" in err
    assert "200/200" in err  # the progress bar
    assert not np.array_equal(png(every)[:100], classwise[:100])

    assert main([*base, "--limit", "zero", "--out", str(tmp_path / "x.png")]) == 2
    assert "positive integer or 'all'" in capsys.readouterr().err


@pytest.mark.slow
def test_context_svg_is_the_same_from_two_processes(tmp_path):
    """Constrained layout's solver leaves process-dependent noise in the last bits of the clip
    rectangles, which matplotlib hashes into the SVG's ids (seen with ArrowHead's three
    classes, not with GunPoint): the ids are numbered, so two processes write one file."""
    import subprocess
    import sys

    root = tmp_path / "data"
    prepare("ArrowHead", root, cache_dir=tmp_path / "cache", progress=False)
    model = tmp_path / "alstmfcn.keras"
    train(load("ArrowHead", root), TrainConfig(model="alstmfcn", epochs=2), model, log_every=0)
    outs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.png"
        cmd = [sys.executable, "-m", "lstmfcn_bench.cli", "context", str(model), "--classwise"]
        cmd += ["--dataset", "ArrowHead", "--root", str(root), "--out", str(out)]
        subprocess.run(cmd, check=True, capture_output=True)
        outs.append(out.with_suffix(".svg").read_bytes())
    assert outs[0] == outs[1]


@pytest.mark.slow
def test_context_of_a_model_without_attention_is_a_clear_error(
    runs, gunpoint, data_root, tmp_path, capsys
):
    model = load_checkpoint(runs["lstmfcn"])
    with pytest.raises(LstmfcnError, match="context figures need an ALSTM-FCN"):
        context_figure(model, gunpoint)
    out = tmp_path / "ctx.png"
    args = ["context", str(runs["lstmfcn"]), "--dataset", "GunPoint", "--root", str(data_root)]
    assert main([*args, "--out", str(out)]) == 2
    assert "has no attention LSTM" in capsys.readouterr().err
    assert not out.exists()


# ------------------------------------------------------------------------------ curves, scatter


@pytest.mark.slow
def test_curves_cli(runs, tmp_path, capsys):
    pictures = {}
    for model, path in runs.items():
        history = path.with_name(f"{path.stem}_history.csv")
        pictures[model] = tmp_path / f"{model}.png"
        assert main(["curves", str(history), "--out", str(pictures[model])]) == 0
    assert not np.array_equal(png(pictures["lstmfcn"]), png(pictures["alstmfcn"]))

    history = runs["lstmfcn"].with_name("lstmfcn_history.csv")
    kept = json.loads(runs["lstmfcn"].with_name("lstmfcn_train.json").read_text())["best_epoch"]
    fig = curves_figure(history)
    assert f"kept epoch {kept} (from _train.json)" in fig.axes[0].get_legend().texts[0].get_text()

    lonely = tmp_path / "lonely_history.csv"  # no _train.json beside it: minimum loss
    rows = ["epoch,loss,accuracy,lr,seconds", "1,0.9,0.5,0.001,0.1", "2,0.4,0.8,0.001,0.1"]
    lonely.write_text("\n".join([*rows, "3,0.6,0.7,0.001,0.1"]) + "\n")
    legend = curves_figure(lonely).axes[0].get_legend().texts[0].get_text()
    assert legend == "kept epoch 2 (minimum training loss)"

    bad = tmp_path / "bad_history.csv"
    bad.write_text("epoch,loss\n1,0.5\n")
    assert main(["curves", str(bad), "--out", str(tmp_path / "bad.png")]) == 2
    assert "no column accuracy, lr" in capsys.readouterr().err


def metric(dataset: str, model: str, accuracy: float, seed: int = 0) -> dict:
    return {
        "dataset": dataset,
        "model": model,
        "cells": 8,
        "seed": seed,
        "test_accuracy": accuracy,
        "train_loss": 0.1,
        "train_accuracy": 1.0,
        "best_epoch": 10,
        "epochs_run": 20,
        "train_seconds": 1.0,
        "backend": "tensorflow",
        "device": "cpu",
    }


def test_scatter_cli(tmp_path):
    published = published_table()
    ours = {  # dataset -> (LSTM-FCN, ALSTM-FCN); Adiac's LSTM-FCN is 20 points off
        "GunPoint": (1.0, 0.99),
        "ArrowHead": (0.88, 0.84),
        "Adiac": (published.loc["Adiac", "LSTM-FCN"] - 0.2, 0.85),
        "ItalyPowerDemand": (0.96, 0.96),
    }
    paths = []
    for dataset, accs in ours.items():
        for model, acc in zip(("lstmfcn", "alstmfcn"), accs, strict=True):
            p = tmp_path / "metrics" / f"{dataset}_{model}.json"
            p.parent.mkdir(exist_ok=True)
            p.write_text(json.dumps(metric(dataset, model, acc)))
            paths.append(p)
    aggregate.write_tables(paths, tmp_path / "tables")
    summary = tmp_path / "tables" / "summary.csv"

    fig = scatter_figure(summary)
    assert len(fig.axes) == 2
    labelled = [t.get_text() for t in fig.axes[0].texts]
    assert labelled == ["Adiac"]
    assert "4 datasets" in fig.axes[0].get_title()

    out = tmp_path / "scatter.png"
    assert main(["scatter", str(summary), "--out", str(out)]) == 0
    first = png(out)
    wide = tmp_path / "wide.png"
    assert main(["scatter", str(summary), "--threshold", "0.5", "--out", str(wide)]) == 0
    assert not np.array_equal(first, png(wide))  # more datasets named
    again = tmp_path / "again.png"
    assert main(["scatter", str(summary), "--out", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()


# ------------------------------------------------------------------------------ style


@pytest.mark.slow
def test_style_leaves_no_global_state(runs, gunpoint, tmp_path):
    import matplotlib.pyplot as plt

    before = dict(matplotlib.rcParams)
    with style():
        assert matplotlib.rcParams["svg.hashsalt"] == "lstmfcn-bench"
    model = load_checkpoint(runs["alstmfcn"])
    context_figure(model, gunpoint)
    assert dict(matplotlib.rcParams) == before
    assert plt.get_fignums() == []
