"""The Python interface: LSTMFCNClassifier / ALSTMFCNClassifier (estimator.py) and load_ucr
(data/loader.py). scikit-learn's own estimator checks, cross-validation, reproducible refits,
pickling and files, the same run as the CLI, input errors; and that importing the package
registers its Keras objects without importing Keras."""

from __future__ import annotations

import csv
import json
import os
import pickle
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import cross_val_score
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

import lstmfcn_bench
from lstmfcn_bench import ALSTMFCNClassifier, LSTMFCNClassifier, load_ucr
from lstmfcn_bench.cli import main
from lstmfcn_bench.data.acquire import fetch_raw
from lstmfcn_bench.data.dataset import load, prepare
from lstmfcn_bench.data.formats import read_split
from lstmfcn_bench.errors import LstmfcnError, UnknownDatasetError
from lstmfcn_bench.models.checkpoint import load_checkpoint, predict_proba
from lstmfcn_bench.training import TrainConfig
from lstmfcn_bench.training.protocol import new_model

#: A short, deterministic run of the protocol (seconds on ItalyPowerDemand).
SHORT = dict(epochs=4, cells=4, batch_size=32, random_state=7, deterministic=True)
#: The models of scikit-learn's checks: one epoch, one batch per epoch.
TINY = dict(epochs=1, cells=4, batch_size=512, random_state=0, deterministic=True)
SEASON = {"1": "winter", "2": "summer"}  # ItalyPowerDemand's classes: Oct-Mar, Apr-Sep
#: What the data_root fixture (conftest.py) prepares for this module.
PREPARED = ("GunPoint", "ItalyPowerDemand")


@pytest.fixture(scope="module", autouse=True)
def _op_determinism_stays_in_this_module():
    """``deterministic=True`` turns on TensorFlow's op determinism for the whole process, as
    ``--deterministic`` does; the other test modules of the session get it back off."""
    if keras.backend.backend() != "tensorflow":
        yield
        return
    from tensorflow.python.framework import config as tf_config

    before = tf_config.is_op_determinism_enabled()
    yield
    if not before:
        tf_config.disable_op_determinism()


@pytest.fixture(scope="module")
def italy(data_root, data_cache):
    """ItalyPowerDemand's splits with string labels."""
    X, y, X_test, y_test = load_ucr(
        "ItalyPowerDemand", None, root=data_root, cache_dir=data_cache, progress=False
    )
    season = np.vectorize(SEASON.get)
    return X, season(y), X_test, season(y_test)


def nested(X: np.ndarray) -> pd.DataFrame:
    """sktime's nested univariate DataFrame: one column, one pd.Series per cell."""
    return pd.DataFrame({"dim_0": [pd.Series(row) for row in X]})


@pytest.fixture(scope="module")
def fitted(italy):
    """An LSTM-FCN fitted on sktime's nested DataFrame layout with string labels."""
    X, y, _, _ = italy
    return LSTMFCNClassifier(**SHORT).fit(nested(X), y)


# --- load_ucr ------------------------------------------------------------------------------------


def test_load_ucr_gives_the_prepared_data_with_the_original_labels(data_root, data_cache):
    X, y = load_ucr("GunPoint", root=data_root, cache_dir=data_cache, progress=False)
    ds = load("GunPoint", data_root)
    assert X.shape == (50, 150) and X.dtype == np.float32
    np.testing.assert_array_equal(X, ds.X_train)
    raw = read_split(fetch_raw("GunPoint", None, data_cache, progress=False).train)
    assert y.tolist() == raw.labels  # the labels as the file writes them, not 0..K-1

    X3, y3 = load_ucr("GunPoint", "test", root=data_root, layout="numpy3d", progress=False)
    assert X3.shape == (150, 1, 150)
    np.testing.assert_array_equal(X3[:, 0, :], ds.X_test)
    assert sorted(set(y3)) == ["1", "2"]
    both = load_ucr("GunPoint", None, root=data_root, progress=False)
    assert len(both) == 4 and both[1].tolist() == y.tolist() and both[3].tolist() == y3.tolist()


def test_load_ucr_prepares_into_the_user_cache_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTMFCN_CACHE", str(tmp_path))
    X, y = load_ucr("ItalyPowerDemand", "test", progress=False)  # the embedded demo zip
    assert X.shape == (1029, 24) and sorted(set(y)) == ["1", "2"]
    assert (tmp_path / "prepared" / "ItalyPowerDemand" / "meta.json").is_file()
    assert (tmp_path / "raw" / "ItalyPowerDemand").is_dir()  # the same cache as lstmfcn fetch


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        (dict(name="GunPoin"), UnknownDatasetError, "Did you mean: GunPoint"),
        (dict(name="GunPoint", split="validation"), ValueError, "split must be"),
        (dict(name="GunPoint", layout="nested"), ValueError, "layout must be one of"),
    ],
)
def test_load_ucr_refuses(data_root, kwargs, error, message):
    with pytest.raises(error, match=message):
        load_ucr(root=data_root, progress=False, **kwargs)


def test_load_ucr_reports_a_damaged_dataset_as_load_does(tmp_path, data_cache):
    prepare("ItalyPowerDemand", tmp_path, cache_dir=data_cache, progress=False)
    (tmp_path / "ItalyPowerDemand" / "data.npz").write_bytes(b"cut")
    with pytest.raises(LstmfcnError, match="is damaged"):
        load_ucr("ItalyPowerDemand", root=tmp_path, progress=False)


# --- the package's import: lazy names, Keras objects registered ----------------------------------


def test_public_names_are_served_lazily():
    assert lstmfcn_bench.__all__ == ["ALSTMFCNClassifier", "LSTMFCNClassifier", "load_ucr"]
    assert lstmfcn_bench.LSTMFCNClassifier is LSTMFCNClassifier
    assert set(lstmfcn_bench.__all__) <= set(dir(lstmfcn_bench))
    with pytest.raises(AttributeError, match="no attribute 'LSTMFCN'"):
        lstmfcn_bench.LSTMFCN  # noqa: B018


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory) -> list[str]:
    """A compiled, saved model of each of the three models (as training leaves them: the
    class-weighted loss included)."""
    out = tmp_path_factory.mktemp("saved")
    paths = []
    for name in ("lstmfcn", "alstmfcn", "lstmfcn_sigmoid"):
        model = new_model(TrainConfig(model=name, cells=4), 24, 2, np.ones(2, np.float32))
        model.save(out / f"{name}.keras")
        paths.append(str(out / f"{name}.keras"))
    return paths


def run_python(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_import_registers_keras_objects_without_importing_keras(saved_models):
    """(b) ``import lstmfcn_bench`` (and its public names) leave Keras unimported; (c) so a
    backend chosen afterwards, as ``lstmfcn train --engine jax`` chooses it, is Keras's; (a)
    once Keras is imported, ``keras.saving.load_model`` loads each model."""
    done = run_python(
        f"""
        import os, sys
        import lstmfcn_bench
        from lstmfcn_bench import ALSTMFCNClassifier, LSTMFCNClassifier, load_ucr
        assert "keras" not in sys.modules, "importing lstmfcn_bench imported keras"
        os.environ["KERAS_BACKEND"] = "jax"
        import keras
        print("backend", keras.backend.backend())
        for path in {saved_models!r}:
            model = keras.saving.load_model(path)
            print("loaded", model.name, type(model.loss).__name__)
        """
    )
    assert done.returncode == 0, done.stderr
    assert "backend jax" in done.stdout
    for graph in ("lstm_fcn", "alstm_fcn", "lstm_fcn_sigmoid"):
        assert f"loaded {graph} ClassWeightedCrossEntropy" in done.stdout


@pytest.mark.parametrize("user_level", [None, "0"])
def test_tensorflow_start_up_chatter_is_silenced_unless_the_user_asks_for_it(user_level):
    """A TensorFlow model fitted through the package writes nothing to stderr (TensorFlow's
    import writes absl's and oneDNN's notices straight to fd 2); a TF_CPP_MIN_LOG_LEVEL the
    user set wins, and the notices are there again."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL")
    }
    if user_level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = user_level
    code = """
        import numpy as np
        from lstmfcn_bench import LSTMFCNClassifier
        X = np.random.default_rng(0).normal(size=(8, 16)); y = np.arange(8) % 2
        LSTMFCNClassifier(cells=4, epochs=1, verbose=0).fit(X, y)
        import tensorflow, keras
        print("backend", keras.backend.backend())
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0 and "backend tensorflow" in done.stdout, done.stderr
    if user_level is None:
        assert done.stderr == ""
    else:
        assert "InitializeLog" in done.stderr or "oneDNN" in done.stderr, done.stderr


def test_the_quiet_import_needs_no_stderr_and_survives_an_availability_check():
    """With fd 2 closed (a service, ``2>&-``) TensorFlow still imports; a find_spec check
    before the import does not use the quieting up; JAX's own setting is not the user's."""
    code = """
        import importlib.util, os, subprocess, sys
        if sys.argv[1] == "closed":
            os.close(2); sys.stderr = None
        import lstmfcn_bench
        if sys.argv[1] == "checked":
            assert importlib.util.find_spec("tensorflow") is not None
        if sys.argv[1] == "jax":
            import jax  # sets TF_CPP_MIN_LOG_LEVEL=1 itself
        import tensorflow
        print("imported", os.environ["TF_CPP_MIN_LOG_LEVEL"])
    """
    env = {
        k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL")
    }
    for case in ("closed", "checked", "jax"):
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), case],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0 and "imported 1" in done.stdout, (case, done.stderr)
        assert done.stderr == "", (case, done.stderr)


def test_import_after_keras_registers_at_once(saved_models):
    """Keras imported first: loading fails until ``import lstmfcn_bench`` registers the
    objects (the failure shows what the registration is for)."""
    done = run_python(
        f"""
        import keras
        try:
            keras.saving.load_model({saved_models[0]!r})
        except Exception as e:
            print("without:", " ".join(str(e).split()))
        import lstmfcn_bench
        for path in {saved_models!r}:
            print("loaded", keras.saving.load_model(path).name)
        """
    )
    assert done.returncode == 0, done.stderr
    assert "without: " in done.stdout
    assert "Could not locate class 'FusedBatchNormalization'" in done.stdout
    assert done.stdout.count("loaded ") == 3


# --- scikit-learn's estimator checks -------------------------------------------------------------


FLOAT32_CHECKS = ("check_methods_sample_order_invariance", "check_methods_subset_invariance")


def expected_failed_checks(estimator) -> dict[str, str]:
    """The checks that cannot apply, each with its reason (xfail, strict: one that passes
    fails the test)."""
    return {
        "check_class_weight_classifiers": (
            "the package's training loop weights classes by the paper's n / (K * count_k) "
            "(class_weight='balanced') or not at all (None); a dict of weights is refused "
            "with a ValueError"
        ),
    }


@pytest.fixture
def eager_tensorflow():
    """The checks fit about a hundred one-epoch models; tracing each new model's train step
    costs more than training it, so TensorFlow runs these functions eagerly (the same Keras
    code, 3x faster here). Every other test trains compiled."""
    if keras.backend.backend() != "tensorflow":
        yield
        return
    import tensorflow as tf

    tf.config.run_functions_eagerly(True)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(False)


# Keras's predict runs through tf.data, which run_functions_eagerly leaves compiled (and says so).
@pytest.mark.filterwarnings("ignore:Even though the `tf.config.experimental_run_functions")
@parametrize_with_checks(
    [LSTMFCNClassifier(**TINY), ALSTMFCNClassifier(**TINY)],
    expected_failed_checks=expected_failed_checks,
    xfail_strict=True,
)
def test_scikit_learn_estimator_checks(estimator, check, eager_tensorflow, monkeypatch):
    # check_array_api_input only runs with SciPy's array-API switch on (read at call time here;
    # these estimators take NumPy arrays, so SciPy's own array handling is not involved).
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    if getattr(check, "func", check).__name__ in FLOAT32_CHECKS:
        # These compare predictions for the same rows in another order or batch at float64's
        # rtol 1e-7; the models compute in float32, whose kernels may round a row's last bit
        # differently with its place in the batch (seen on AMD EPYC: 6e-8 apart). Compared at
        # float32's precision instead, they still fail on any real dependence on order.
        def float32_close(actual, desired, *args, err_msg="", **kwargs):
            np.testing.assert_allclose(actual, desired, rtol=1e-5, atol=1e-6, err_msg=err_msg)

        for name in ("assert_allclose", "assert_allclose_dense_sparse"):
            monkeypatch.setattr(estimator_checks, name, float32_close)
    check(estimator)


# --- scikit-learn tools --------------------------------------------------------------------------


def test_cross_val_score_on_gunpoint_beats_chance(data_root):
    X, y = load_ucr("GunPoint", root=data_root, progress=False)
    clf = LSTMFCNClassifier(epochs=60, batch_size=4, random_state=1, deterministic=True)
    scores = cross_val_score(clf, X, y, cv=2)
    assert scores.shape == (2,)
    assert scores.mean() > 0.5, scores


def test_clone_and_refit_reproduce_the_predictions(fitted, italy, capsys):
    """Same random_state, same predictions: from the nested DataFrame (fitted) or from the
    numpy3d layout, through clone; verbose prints progress and nothing else changes."""
    X, y, X_test, _ = italy
    again = clone(fitted).set_params(verbose=1).fit(X[:, None, :], y)
    out = capsys.readouterr().out
    assert "epoch 4/4" in out and f"done: kept epoch {again.best_epoch_}" in out
    assert again.best_epoch_ == fitted.best_epoch_
    np.testing.assert_array_equal(again.predict_proba(X_test), fitted.predict_proba(X_test))


def test_the_fitted_attributes(fitted, italy):
    X, y, X_test, y_test = italy
    assert fitted.classes_.tolist() == ["summer", "winter"]
    assert fitted.n_features_in_ == 24 and fitted.n_iter_ == 4
    assert [h["epoch"] for h in fitted.history_] == [1, 2, 3, 4]
    losses = [h["loss"] for h in fitted.history_]
    assert fitted.best_loss_ == min(losses) == losses[fitted.best_epoch_ - 1]
    assert isinstance(fitted.model_, keras.Model) and fitted.model_.name == "lstm_fcn"
    assert fitted.train_info_["config"]["seed"] == 7
    assert fitted.train_info_["config"]["shuffle"] is True
    proba = fitted.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert set(fitted.predict(X_test)) <= {"summer", "winter"}  # the labels, not codes
    assert 0 <= fitted.score(X_test, y_test) <= 1


def test_every_input_layout_predicts_the_same(fitted, italy):
    X_test = italy[2][:50]
    expected = fitted.predict_proba(X_test)
    for layout in (X_test[:, None, :], nested(X_test), pd.DataFrame(X_test), X_test.tolist()):
        np.testing.assert_array_equal(fitted.predict_proba(layout), expected)


def test_a_nested_frame_of_shorter_series_is_padded_as_the_cli_pads(fitted, italy):
    """A shorter series is normalised at its own length, then zero-padded at the end."""
    X_test = italy[2][:5].astype(np.float64)
    short = X_test[:, :20]
    z = (short - short.mean(axis=1, keepdims=True)) / short.std(axis=1, keepdims=True)
    padded = np.pad(z, ((0, 0), (0, 4)))  # fed to the model as it is, past the preprocessing
    np.testing.assert_allclose(
        fitted.predict_proba(nested(short)), predict_proba(fitted.model_, padded), rtol=1e-5
    )


def test_pickle_carries_the_weights(fitted, italy):
    X_test = italy[2]
    state = fitted.__getstate__()
    assert isinstance(state["model_"], bytes)  # a .keras archive, not a live Keras object
    back = pickle.loads(pickle.dumps(fitted))
    assert back.model_ is not fitted.model_
    np.testing.assert_array_equal(back.predict_proba(X_test), fitted.predict_proba(X_test))
    assert back.get_params() == fitted.get_params()
    assert back.classes_.tolist() == fitted.classes_.tolist()


def test_save_and_load_round_trip(fitted, italy, tmp_path):
    X_test = italy[2]
    path = fitted.save(tmp_path / "italy.keras")
    back = LSTMFCNClassifier.load(path)
    np.testing.assert_array_equal(back.predict_proba(X_test), fitted.predict_proba(X_test))
    assert back.predict(X_test).tolist() == fitted.predict(X_test).tolist()
    assert back.classes_.dtype == fitted.classes_.dtype
    assert back.get_params() == fitted.get_params()
    assert back.best_epoch_ == fitted.best_epoch_ and back.history_ == fitted.history_
    # still an ordinary checkpoint: the package's loader and Keras's read it
    assert load_checkpoint(path).name == "lstm_fcn"
    assert keras.saving.load_model(path, compile=False).name == "lstm_fcn"
    with pytest.raises(ValueError, match="holds a LSTMFCNClassifier"):
        ALSTMFCNClassifier.load(path)


def test_load_refuses_a_checkpoint_without_classes(saved_models):
    with pytest.raises(ValueError, match="without classifier metadata"):
        LSTMFCNClassifier.load(saved_models[0])


# --- the same run as the CLI ---------------------------------------------------------------------


def test_the_estimator_trains_the_run_the_cli_trains(tmp_path, data_root, data_cache, capsys):
    """``lstmfcn train`` is what the workflow's train rule runs, on the data ``lstmfcn fetch``
    prepared. The estimator, given the raw series as the files hold them, preprocesses them as
    fetch does and trains through the same loop: the same kept epoch, history and
    predictions for the same seed and settings (CPU, deterministic ops)."""
    settings = ["--cells", "4", "--epochs", "6", "--batch-size", "16", "--patience", "1"]
    args = ["--min-delta", "0.05", "--seed", "3", "--deterministic", "--log-every", "0"]
    code = main(
        ["train", "ItalyPowerDemand", "--model", "alstmfcn", *settings, *args]
        + ["--root", str(data_root), "--out", str(tmp_path)]
    )
    assert code == 0, capsys.readouterr().err
    info = json.loads((tmp_path / "alstmfcn_c4_s3_train.json").read_text())
    with open(tmp_path / "alstmfcn_c4_s3_history.csv") as f:
        cli_losses = [float(r["loss"]) for r in csv.DictReader(f)]
    ds = load("ItalyPowerDemand", data_root)
    cli_proba = predict_proba(load_checkpoint(tmp_path / "alstmfcn_c4_s3.keras"), ds.X_test)

    raw = fetch_raw("ItalyPowerDemand", None, data_cache, progress=False)
    train, test = read_split(raw.train), read_split(raw.test)
    est = ALSTMFCNClassifier(
        cells=4, epochs=6, batch_size=16, patience=1, min_delta=0.05, random_state=3
    )
    est.set_params(deterministic=True).fit(np.stack(train.series), train.labels)

    assert est.best_epoch_ == info["best_epoch"]
    assert est.best_loss_ == info["train_loss"]
    assert [float(f"{h['loss']:.8g}") for h in est.history_] == cli_losses
    assert len({h["lr"] for h in est.history_}) > 1, "the run should span a plateau reduction"
    X_test = np.stack(test.series)
    np.testing.assert_array_equal(est.predict_proba(X_test), cli_proba)
    assert est.predict(X_test).tolist() == [ds.classes[k] for k in cli_proba.argmax(axis=1)]


# --- input errors: one clear ValueError each -----------------------------------------------------

X10 = np.random.default_rng(0).normal(size=(10, 6))
Y10 = np.array(["a", "b"] * 5)


@pytest.mark.parametrize(
    "X,y,params,message",
    [
        (X10[:, 0], Y10, {}, "Expected 2D array, got 1D array"),
        (np.stack([X10, X10], axis=1), Y10, {}, r"has 2 channels: .* univariate series"),
        (X10[:, None, :, None], Y10, {}, "got an array of 4 dimensions"),
        (np.where(X10 > 1, np.nan, X10), Y10, {}, "Input X contains NaN"),
        (X10, np.array(["a"] * 10), {}, r"y has only one class \('a'\)"),
        (X10, Y10[:-1], {}, "X has 10 series but y has 9 labels"),
        (X10, X10[:, 0], {}, "Unknown label type"),
        (X10, Y10, {"class_weight": "auto"}, "class_weight must be 'balanced' .* or None"),
        (X10, Y10, {"cells": 0}, "cells must be >= 1, got 0"),
        (X10, Y10, {"gate": "tanh"}, "gate must be 'hard_sigmoid' or 'sigmoid'"),
        (X10, Y10, {"verbose": -1}, "verbose must be an integer >= 0"),
        (pd.concat([nested(X10)] * 2, axis=1), Y10, {}, "nested DataFrame of 2 columns"),
    ],
    ids=[
        "1-D",
        "channels",
        "4-D",
        "NaN",
        "one class",
        "labels",
        "continuous y",
        "class_weight",
        "cells",
        "gate",
        "verbose",
        "multivariate",
    ],
)
def test_fit_refuses(X, y, params, message):
    with pytest.raises(ValueError, match=message):
        LSTMFCNClassifier(**{**SHORT, **params}).fit(X, y)


def test_predict_refuses_another_series_length(fitted, italy):
    with pytest.raises(
        ValueError, match="X has 20 features, but LSTMFCNClassifier is expecting 24"
    ):
        fitted.predict(italy[2][:, :20])
    with pytest.raises(
        ValueError, match="series of length 30, but .* fitted on series of length 24"
    ):
        fitted.predict(nested(np.zeros((3, 30))))


def test_predict_before_fit_is_not_fitted_error():
    with pytest.raises(NotFittedError, match="is not fitted yet"):
        ALSTMFCNClassifier().predict(X10)


def test_class_weight_none_trains_an_unweighted_loss():
    """On unbalanced labels (8 a, 2 b) the first epoch's loss differs from the weighted one,
    and the run records that it was not the paper's weighting."""
    X = np.random.default_rng(1).normal(size=(10, 12))
    y = np.array(["a"] * 8 + ["b"] * 2)
    balanced = LSTMFCNClassifier(**TINY).fit(X, y)
    plain = LSTMFCNClassifier(**{**TINY, "class_weight": None}).fit(X, y)
    assert plain.train_info_["config"]["class_weighted"] is False
    assert balanced.train_info_["config"]["class_weighted"] is True
    assert plain.history_[0]["loss"] != pytest.approx(balanced.history_[0]["loss"], rel=1e-3)
