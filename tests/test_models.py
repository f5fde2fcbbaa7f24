"""LSTM-FCN / ALSTM-FCN architecture, the attention cell against NumPy, saving, second backend.

Expected architectures are written out here from the paper, with parameter counts from the
formulas below, so any change of a layer, shape, name, wiring or size fails a test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from lstmfcn_bench.errors import ConfigError
from lstmfcn_bench.models.architecture import (
    alstm_fcn,
    build_model,
    conv_features_and_head,
    lstm_fcn,
)
from lstmfcn_bench.models.attention import (
    AttentionLSTM,
    AttentionLSTMCell,
    attention_weights_and_context,
    to_numpy,
)
from lstmfcn_bench.runs import KERAS_MODELS, KERAS_NAME

T, K = 150, 2

# Keras' TF backend calls np.array() on tensors while saving; NumPy 2 warns because TF's
# __array__ lacks copy=. Third-party noise, not ours.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


# --- parameter-count formulas -------------------------------------------------------------


def lstm_params(f: int, u: int) -> int:
    """W (f, 4u), U (u, 4u), b (4u)."""
    return 4 * (f * u + u * u + u)


def attention_lstm_params(f: int, u: int) -> int:
    """LSTM plus A (f, 4u), then W_a (f, u), U_a (u, u), b_a (u), v (u, 1)."""
    return 4 * (f * u + u * u + f * u + u) + f * u + u * u + u + u


def conv_params(k: int, c_in: int, c_out: int) -> int:
    return k * c_in * c_out + c_out


def bn_params(channels: int) -> int:
    """gamma, beta, moving mean, moving variance."""
    return 4 * channels


def dense_params(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def expected_architecture(attention: bool, cells: int, shuffle: bool, length=T, classes=K):
    """name -> (class, output shape, parameter count, names of the input layers)."""
    features = length if shuffle else 1
    spec = {
        "series": ("InputLayer", (None, 1, length) if shuffle else (None, length, 1), 0, []),
    }
    if attention:
        spec["attention_lstm"] = (
            "AttentionLSTM",
            (None, cells),
            attention_lstm_params(features, cells),
            ["series"],
        )
        recurrent = "attention_lstm"
    else:
        spec["lstm"] = ("LSTM", (None, cells), lstm_params(features, cells), ["series"])
        recurrent = "lstm"
    spec["lstm_dropout"] = ("Dropout", (None, cells), 0, [recurrent])
    previous, channels = "series", 1
    if shuffle:
        spec["permute"] = ("Permute", (None, length, 1), 0, ["series"])
        previous = "permute"
    for block, (filters, kernel) in enumerate(((128, 8), (256, 5), (128, 3)), start=1):
        shape = (None, length, filters)
        spec[f"conv{block}"] = ("Conv1D", shape, conv_params(kernel, channels, filters), [previous])
        spec[f"bn{block}"] = (
            "FusedBatchNormalization",
            shape,
            bn_params(filters),
            [f"conv{block}"],
        )
        spec[f"relu{block}"] = ("Activation", shape, 0, [f"bn{block}"])
        previous, channels = f"relu{block}", filters
    spec["gap"] = ("GlobalAveragePooling1D", (None, 128), 0, ["relu3"])
    spec["concat"] = ("Concatenate", (None, cells + 128), 0, ["lstm_dropout", "gap"])
    spec["head"] = ("Dense", (None, classes), dense_params(cells + 128, classes), ["concat"])
    return spec


def actual_architecture(model: keras.Model):
    spec = {}
    for layer in model.layers:
        node = layer._inbound_nodes[0]
        inputs = [t._keras_history.operation.name for t in node.input_tensors]
        shape = tuple(layer.output.shape)
        spec[layer.name] = (type(layer).__name__, shape, layer.count_params(), inputs)
    return spec


def predict(model, x) -> np.ndarray:
    return to_numpy(model(x, training=False))


def random_series(n, shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype("float32")


# --- NumPy reference of the attention LSTM ------------------------------------------------

CELL_WEIGHTS = (
    "kernel",
    "recurrent_kernel",
    "attention_kernel",
    "bias",
    "attention_W",
    "attention_U",
    "attention_b",
    "attention_v",
)


def randomise_attention(layer: AttentionLSTM, seed: int) -> dict[str, np.ndarray]:
    """Random weights (v large enough that α is far from uniform); returns them as float64."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name in CELL_WEIGHTS:
        variable = getattr(layer.cell, name)
        scale = 2.0 if name == "attention_v" else 0.6
        value = (scale * rng.normal(size=variable.shape)).astype("float32")
        variable.assign(value)
        weights[name] = value.astype("float64")
    return weights


def hard_sigmoid(a):
    """Keras 2's hard sigmoid, the original's recurrent activation."""
    return np.clip(0.2 * a + 0.5, 0.0, 1.0)


def reference_attention_lstm(x, w):
    """The module docstring's equations, step by step, in float64: (h_S, α (n,S,S), z (n,S,F))."""
    x = np.asarray(x, dtype="float64")
    n, steps, _ = x.shape
    units = w["recurrent_kernel"].shape[0]
    h, c = np.zeros((n, units)), np.zeros((n, units))
    alphas, contexts = [], []
    for t in range(steps):
        energy = np.zeros((n, steps))
        for j in range(steps):
            hidden = np.tanh(x[:, j] @ w["attention_W"] + h @ w["attention_U"] + w["attention_b"])
            energy[:, j] = (hidden @ w["attention_v"])[:, 0]
        alpha = np.exp(energy) / np.exp(energy).sum(axis=1, keepdims=True)
        context = np.einsum("nj,njf->nf", alpha, x)
        gates = (
            x[:, t] @ w["kernel"]
            + h @ w["recurrent_kernel"]
            + context @ w["attention_kernel"]
            + w["bias"]
        )
        gate_i, gate_f, gate_c, gate_o = np.split(gates, 4, axis=1)
        c = hard_sigmoid(gate_f) * c + hard_sigmoid(gate_i) * np.tanh(gate_c)
        h = hard_sigmoid(gate_o) * np.tanh(c)
        alphas.append(alpha)
        contexts.append(context)
    return h, np.stack(alphas, axis=1), np.stack(contexts, axis=1)


def attention_model(steps: int, features: int, units: int) -> keras.Model:
    series = keras.Input((steps, features), name="series")
    return keras.Model(series, AttentionLSTM(units, name="attention_lstm")(series))


# --- tests -------------------------------------------------------------------------------


def test_default_backend_is_tensorflow():
    assert keras.backend.backend() == "tensorflow"


@pytest.mark.parametrize("cells", [8, 64, 128])
@pytest.mark.parametrize("name", KERAS_MODELS)
def test_architecture_and_parameter_counts(name, cells):
    model = build_model(name, T, K, cells=cells)
    expected = expected_architecture(name == "alstmfcn", cells, shuffle=True)
    assert actual_architecture(model) == expected
    assert model.count_params() == sum(params for _, _, params, _ in expected.values())
    assert model.input.name == "series"
    assert [t.name for t in model.inputs] == ["series"]


@pytest.mark.parametrize("name", KERAS_MODELS)
def test_architecture_without_shuffle(name):
    model = build_model(name, T, K, cells=8, shuffle=False)
    assert actual_architecture(model) == expected_architecture(name == "alstmfcn", 8, False)


@pytest.mark.parametrize("builder", [lstm_fcn, alstm_fcn])
def test_layer_settings(builder):
    """What parameter counts cannot see: dropout rate, activations, padding, initialisers."""
    model = builder(T, 5)
    assert model.get_layer("lstm_dropout").rate == 0.8
    assert model.get_layer("head").get_config()["activation"] == "softmax"
    for block in (1, 2, 3):
        conv = model.get_layer(f"conv{block}").get_config()
        assert conv["padding"] == "same"
        assert conv["strides"] == (1,)
        assert conv["kernel_initializer"]["class_name"] == "HeUniform"
        assert model.get_layer(f"relu{block}").get_config()["activation"] == "relu"
    assert model.get_layer("permute").get_config()["dims"] == (2, 1)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # Keras 2's hard sigmoid, clip(0.2·x + 0.5, 0, 1): the authors' gate, the default.
        ("lstmfcn", [0.0, 0.0, 0.3, 0.5, 0.7, 1.0, 1.0]),
        ("alstmfcn", [0.0, 0.0, 0.3, 0.5, 0.7, 1.0, 1.0]),
        # The variant: Keras 3's logistic sigmoid.
        ("lstmfcn_sigmoid", list(1 / (1 + np.exp(-np.array([-3.0, -2.5, -1, 0, 1, 2.5, 3.0]))))),
    ],
)
def test_lstm_gate_activation_survives_saving(tmp_path, name, expected):
    x = np.array([-3.0, -2.5, -1.0, 0.0, 1.0, 2.5, 3.0], dtype="float32")
    model = build_model(name, T, 3, cells=4)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    layer = "attention_lstm" if name == "alstmfcn" else "lstm"
    for m in (model, loaded):
        gate = m.get_layer(layer).cell.recurrent_activation
        np.testing.assert_allclose(np.asarray(gate(x)), expected, rtol=1e-6, atol=1e-7)
    assert loaded.name == KERAS_NAME[name]


def test_unknown_gate_is_refused():
    with pytest.raises(ConfigError, match="unknown LSTM gate 'relu'.*hard_sigmoid, sigmoid"):
        lstm_fcn(T, 3, gate="relu")


def _bn_pass(layer, x, upstream):
    """Training-mode output, gradients (input, gamma, beta), moving stats, inference output."""
    import tensorflow as tf

    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        s = tf.reduce_sum(y * upstream)
    grads = tape.gradient(s, [x, layer.gamma, layer.beta])
    return [
        y.numpy(),
        *(g.numpy() for g in grads),
        layer.moving_mean.numpy(),
        layer.moving_variance.numpy(),
        layer(x, training=False).numpy(),
    ]


def test_fused_batch_norm_is_keras_batch_norm():
    """Output, gradients and moving statistics equal Keras's own BatchNormalization's,
    the moving variance included (the fused kernel's is unbiased; Keras's is not)."""
    from lstmfcn_bench.models.batchnorm import FusedBatchNormalization

    rng = np.random.default_rng(0)
    x = (3 * rng.standard_normal((16, 37, 8)) + 1).astype("float32")
    upstream = rng.standard_normal(x.shape).astype("float32")
    gamma, beta = rng.standard_normal((2, 8)).astype("float32")
    results = []
    for layer in (keras.layers.BatchNormalization(), FusedBatchNormalization()):
        layer.build(x.shape)
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
        results.append(_bn_pass(layer, x, upstream))
    names = ["output", "d/dx", "d/dgamma", "d/dbeta", "moving mean", "moving var", "inference"]
    for name, ours, keras_bn in zip(names, *results, strict=True):
        np.testing.assert_allclose(ours, keras_bn, rtol=1e-5, atol=1e-5, err_msg=name)
    # Not vacuous: the moving variance moved, and by the biased batch variance ...
    biased = x.reshape(-1, 8).var(axis=0)
    np.testing.assert_allclose(results[1][5], 0.99 + 0.01 * biased, rtol=1e-6)
    # ... and the fused kernel is what computed it.
    import tensorflow as tf

    fused = FusedBatchNormalization()
    graph = (
        tf.function(lambda t: fused(t, training=True))
        .get_concrete_function(tf.TensorSpec(x.shape, tf.float32))
        .graph
    )
    assert "FusedBatchNormV3" in {op.type for op in graph.get_operations()}


def test_outputs_are_probabilities():
    x = random_series(6, (1, T))
    for name in KERAS_MODELS:
        probabilities = predict(build_model(name, T, 3, cells=8), x)
        assert probabilities.shape == (6, 3)
        assert (probabilities >= 0).all()
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: lstm_fcn(0, 2), "length"),
        (lambda: alstm_fcn(T, 1), "n_classes"),
        (lambda: lstm_fcn(T, 2, cells=0), "cells"),
        (lambda: alstm_fcn(T, 2, cells=8.5), "cells"),
        (lambda: lstm_fcn(True, 2), "length"),
        (lambda: lstm_fcn(T, 2, shuffle="yes"), "shuffle"),
        (lambda: build_model("fcn", T, 2), "lstmfcn, alstmfcn"),
    ],
)
def test_bad_arguments_raise_config_error(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


@pytest.mark.parametrize("name", KERAS_MODELS)
def test_conv_features_and_head_split_the_logits(name):
    """Head rows: LSTM features first, conv features last; CAM's time-mean identity holds."""
    model = build_model(name, T, 3, cells=8)
    x = random_series(4, (1, T), seed=1)
    feature_model, w_conv, bias = conv_features_and_head(model)
    kernel = model.get_layer("head").kernel.numpy()
    assert w_conv.shape == (128, 3) and bias.shape == (3,)
    np.testing.assert_array_equal(w_conv, kernel[-128:])
    f = predict(feature_model, x)
    assert f.shape == (4, T, 128)
    lstm_part = keras.Model(model.input, model.get_layer("lstm_dropout").output)
    logits = predict(lstm_part, x) @ kernel[:8] + f.mean(axis=1) @ w_conv + bias
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(predict(model, x), expected, atol=1e-5)


@pytest.mark.parametrize("steps, features, units", [(1, 11, 5), (7, 3, 4)])
def test_attention_cell_matches_numpy_reference(steps, features, units):
    model = attention_model(steps, features, units)
    weights = randomise_attention(model.get_layer("attention_lstm"), seed=steps)
    x = random_series(5, (steps, features), seed=2)
    h, alpha, context = reference_attention_lstm(x, weights)
    np.testing.assert_allclose(predict(model, x), h, atol=1e-5)
    np.testing.assert_allclose(alpha.sum(axis=-1), 1.0, rtol=1e-12)

    got_alpha, got_context = attention_weights_and_context(model, x)
    assert got_alpha.shape == (5, steps, steps) and got_context.shape == (5, steps, features)
    np.testing.assert_allclose(got_alpha, alpha, atol=1e-5)
    np.testing.assert_allclose(got_context, context, atol=1e-5)
    np.testing.assert_allclose(got_alpha.sum(axis=-1), 1.0, atol=1e-6)
    if steps == 1:  # the dimension shuffle: attention over one timestep is inert
        np.testing.assert_array_equal(got_alpha, 1.0)
        np.testing.assert_allclose(got_context, x, atol=1e-6)
    else:  # the test means something only if attention is far from uniform
        assert got_alpha.max() > 2.0 / steps


def test_attention_parameter_names_and_shapes():
    layer = attention_model(7, 3, 4).get_layer("attention_lstm")
    shapes = {v.name: tuple(v.shape) for v in layer.weights}
    assert shapes == {
        "kernel": (3, 16),
        "recurrent_kernel": (4, 16),
        "attention_kernel": (3, 16),
        "bias": (16,),
        "attention_W": (3, 4),
        "attention_U": (4, 4),
        "attention_b": (4,),
        "attention_v": (4, 1),
    }
    bias = layer.cell.bias.numpy()
    np.testing.assert_array_equal(bias, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])


def test_context_of_the_shuffled_alstm_fcn_is_the_series():
    model = alstm_fcn(T, K)
    x = random_series(3, (1, T), seed=3)
    alpha, context = attention_weights_and_context(model, x)
    assert alpha.shape == (3, 1, 1) and context.shape == (3, 1, T)
    np.testing.assert_array_equal(alpha, 1.0)
    np.testing.assert_allclose(context, x, atol=1e-6)
    # (n, T) is accepted too, and a model without attention is refused clearly.
    np.testing.assert_allclose(attention_weights_and_context(model, x[:, 0])[1], context)
    with pytest.raises(ConfigError, match="AttentionLSTM"):
        attention_weights_and_context(lstm_fcn(T, K), x)
    with pytest.raises(ConfigError, match="shape"):
        attention_weights_and_context(model, x[:, :, :10])


def test_bare_cell_without_sequence_state_is_refused():
    rnn = keras.layers.RNN(AttentionLSTMCell(4, sequence_length=2, input_dim=3))
    with pytest.raises(ConfigError, match="initial_state"):
        rnn(random_series(2, (2, 3)))


def test_cell_and_layer_configs_round_trip():
    layer = attention_model(7, 3, 4).get_layer("attention_lstm")
    clone = AttentionLSTM.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    cell = AttentionLSTMCell.from_config(layer.cell.get_config())
    assert cell.get_config() == layer.cell.get_config()
    assert cell.state_size == [4, 4, 21] and cell.output_size == 4


@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffle", "timesteps"])
@pytest.mark.parametrize("name", KERAS_MODELS)
def test_keras_file_round_trip(tmp_path, name, shuffle):
    length = T if shuffle else 20
    model = build_model(name, length, 3, cells=8, shuffle=shuffle)
    if name == "alstmfcn":
        randomise_attention(model.get_layer("attention_lstm"), seed=4)
    x = random_series(4, (1, length) if shuffle else (length, 1), seed=5)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert actual_architecture(loaded) == actual_architecture(model)
    np.testing.assert_array_equal(predict(loaded, x), predict(model, x))


@pytest.mark.parametrize("name", KERAS_MODELS)
def test_checkpoints_saved_before_the_package_layout_still_load(tmp_path, name):
    """Files saved when the custom layers lived in lstmfcn_bench.{batchnorm,attention} name
    those modules; the registered names still find the classes."""
    import zipfile

    from lstmfcn_bench.models.checkpoint import load_checkpoint

    model = build_model(name, T, 3, cells=8)
    new = tmp_path / "new.keras"
    model.save(new)
    old = tmp_path / "old.keras"
    with zipfile.ZipFile(new) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "config.json":
                text = data.decode()
                assert "lstmfcn_bench.models.batchnorm" in text
                data = text.replace("lstmfcn_bench.models.", "lstmfcn_bench.").encode()
            dst.writestr(item, data)
    loaded = load_checkpoint(old)
    x = random_series(4, (1, T), seed=5)
    np.testing.assert_array_equal(predict(loaded, x), predict(model, x))


JAX_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import keras, numpy as np
    from lstmfcn_bench.models.attention import attention_weights_and_context
    from lstmfcn_bench.models.architecture import build_model

    assert keras.backend.backend() == "jax", keras.backend.backend()
    out = {"params": {}}
    for name in sys.argv[1].split(","):
        for shuffle in (True, False):
            model = build_model(name, 150, 2, cells=8, shuffle=shuffle)
            out["params"][f"{name}-{shuffle}"] = model.count_params()
    for stem in sys.argv[2:]:
        model = keras.saving.load_model(stem + ".keras", safe_mode=True)
        x = np.load(stem + ".x.npy")
        np.save(stem + ".jax.npy", np.asarray(model(x, training=False)))
        if os.path.basename(stem) == "attention":
            alpha, context = attention_weights_and_context(model, x)
            np.save(stem + ".alpha.npy", alpha)
            np.save(stem + ".context.npy", context)
    print(json.dumps(out))
    """
)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_models_agree_on_the_jax_backend(tmp_path):
    """TF-saved .keras files load under JAX and predict the same; JAX matches NumPy too."""
    cases = {
        "lstmfcn": (build_model("lstmfcn", T, 3), (1, T)),
        "alstmfcn": (build_model("alstmfcn", T, 3), (1, T)),
        "alstmfcn_timesteps": (build_model("alstmfcn", 20, 3, shuffle=False), (20, 1)),
        "attention": (attention_model(7, 3, 4), (7, 3)),
    }
    tf_predictions, reference = {}, None
    for seed, (stem, (model, shape)) in enumerate(cases.items()):
        if "alstm" in stem or stem == "attention":
            weights = randomise_attention(model.get_layer("attention_lstm"), seed=10 + seed)
        x = random_series(4, shape, seed=seed)
        if stem == "attention":
            reference = reference_attention_lstm(x, weights)
        model.save(tmp_path / f"{stem}.keras")
        np.save(tmp_path / f"{stem}.x.npy", x)
        tf_predictions[stem] = predict(model, x)

    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    stems = [str(tmp_path / stem) for stem in cases]
    run = subprocess.run(
        [sys.executable, "-c", JAX_SCRIPT, ",".join(KERAS_MODELS), *stems],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    params = json.loads(run.stdout.strip().splitlines()[-1])["params"]
    for name in KERAS_MODELS:
        for shuffle in (True, False):
            tf_model = build_model(name, T, 2, cells=8, shuffle=shuffle)
            assert params[f"{name}-{shuffle}"] == tf_model.count_params()

    for stem in cases:
        jax_prediction = np.load(tmp_path / f"{stem}.jax.npy")
        np.testing.assert_allclose(jax_prediction, tf_predictions[stem], atol=1e-5)
    h, alpha, context = reference
    np.testing.assert_allclose(np.load(tmp_path / "attention.jax.npy"), h, atol=1e-5)
    np.testing.assert_allclose(np.load(tmp_path / "attention.alpha.npy"), alpha, atol=1e-5)
    np.testing.assert_allclose(np.load(tmp_path / "attention.context.npy"), context, atol=1e-5)
